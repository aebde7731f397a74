package commands

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"sw/cluster/daemon"
	"sw/cluster/hooks"
	"sw/config"
)

func daemonCommand(plugins []hooks.Plugin) *cli.Command {
	return &cli.Command{
		Name:  "daemon",
		Usage: "run an sw node (the daemon)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data-dir", Usage: "where the node keeps its state (default /var/lib/sw)"},
			&cli.StringFlag{Name: "hostname", Usage: "the node's name (default: the OS hostname)"},
			&cli.StringFlag{Name: "ingress-addr", Usage: "address published ports listen on (default: all)"},
			&cli.StringFlag{Name: "config", Usage: "config file (default /etc/sw/daemon.yaml or $HOME/.sw/daemon.yaml)"},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "min-free-disk", Usage: "space a manager keeps free in its data dir; with less it refuses writes (default 64MiB)"},
		},
		Action: func(c *cli.Context) error {
			set := map[string]string{}
			for _, name := range []string{"data-dir", "hostname", "ingress-addr", "log-level", "min-free-disk"} {
				if c.IsSet(name) {
					set[name] = c.String(name)
				}
			}
			if c.IsSet("host") {
				set["host"] = c.String("host")
			}
			cfg, err := config.Load(c.String("config"), set)
			if err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
				return usageError("invalid --log-level %q", cfg.LogLevel)
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			minFree, err := cfg.MinFreeBytes()
			if err != nil {
				return err
			}
			d, err := daemon.New(ctx, daemon.Config{DataDir: cfg.DataDir, Socket: cfg.SocketPath(),
				Hostname: cfg.Hostname, IngressAddr: cfg.IngressAddr, Plugins: plugins, Logger: log, MinFreeDisk: minFree})
			if err != nil {
				return err
			}
			return d.Run(ctx)
		},
	}
}
