package commands

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
)

func swarmCommand() *cli.Command {
	return &cli.Command{
		Name:  "swarm",
		Usage: "manage the swarm",
		Subcommands: []*cli.Command{
			{
				Name:  "init",
				Usage: "initialize a swarm, with this node as its first manager",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "advertise-addr", Usage: "advertised address (IP[:PORT])"},
					&cli.StringFlag{Name: "listen-addr", Usage: "listen address (IP:PORT, default 0.0.0.0:2377)"},
					&cli.BoolFlag{Name: "force-new-cluster", Usage: "force create a new cluster from this manager's current state"},
					&cli.DurationFlag{Name: "cert-expiry", Usage: "validity period for node certificates (default 2160h0m0s)"},
					&cli.StringFlag{Name: "ca-cert", Usage: "path to the PEM root CA certificate to use instead of a new one"},
					&cli.StringFlag{Name: "ca-key", Usage: "path to the PEM root CA key (with --ca-cert)"},
					&cli.StringSliceFlag{Name: "plugin", Usage: "turn a plugin on (default: ingress on, autolock off)"},
					&cli.StringSliceFlag{Name: "no-plugin", Usage: "turn a plugin off"},
				},
				Action: swarmInit,
			},
			{
				Name: "join", Usage: "join a swarm as a node and/or manager", ArgsUsage: "HOST:PORT",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "token", Usage: "token for entry into the swarm", Required: true},
					&cli.StringFlag{Name: "advertise-addr", Usage: "advertised address (IP[:PORT])"},
					&cli.StringFlag{Name: "listen-addr", Usage: "listen address (IP:PORT, default 0.0.0.0:2377)"},
				},
				Action: swarmJoin,
			},
			{
				Name: "join-token", Usage: "manage join tokens", ArgsUsage: "(worker|manager)",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display token"},
					&cli.BoolFlag{Name: "rotate", Usage: "rotate join token"},
				},
				Action: swarmJoinToken,
			},
			{
				Name: "update", Usage: "update the swarm",
				Flags:  []cli.Flag{&cli.DurationFlag{Name: "cert-expiry", Usage: "validity period for node certificates"}},
				Action: swarmUpdate,
			},
			{
				Name: "leave", Usage: "leave the swarm",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "force this node to leave the swarm, ignoring warnings"}},
				Action: func(c *cli.Context) error {
					cl, err := client(c)
					if err != nil {
						return err
					}
					if err := cl.Leave(c.Context, c.Bool("force")); err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, "Node left the swarm.")
					return nil
				},
			},
		},
	}
}

func swarmInit(c *cli.Context) error {
	req := api.InitRequest{AdvertiseAddr: c.String("advertise-addr"), ListenAddr: c.String("listen-addr"),
		ForceNewCluster: c.Bool("force-new-cluster"), CertExpiry: c.Duration("cert-expiry"),
		Plugins: c.StringSlice("plugin"), NoPlugins: c.StringSlice("no-plugin")}
	if c.IsSet("cert-expiry") && req.CertExpiry < time.Hour {
		return usageError("invalid --cert-expiry %s: the minimum is 1h0m0s", req.CertExpiry)
	}
	if c.IsSet("ca-cert") != c.IsSet("ca-key") {
		return usageError("--ca-cert and --ca-key must be given together")
	}
	if c.IsSet("ca-cert") {
		var err error
		if req.CACertPEM, err = os.ReadFile(c.String("ca-cert")); err != nil {
			return err
		}
		if req.CAKeyPEM, err = os.ReadFile(c.String("ca-key")); err != nil {
			return err
		}
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	resp, err := cl.Init(c.Context, req)
	if err != nil {
		return err
	}
	if req.ForceNewCluster {
		fmt.Fprintf(c.App.Writer, "Swarm recovered: current node (%s) is now the only manager of the swarm, with its state kept.\n", resp.NodeID)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "Swarm initialized: current node (%s) is now a manager.\n\n", resp.NodeID)
	printJoin(c.App.Writer, "worker", resp.WorkerToken, resp.AdvertiseAddr)
	fmt.Fprintf(c.App.Writer, "\nTo add a manager to this swarm, run 'sw swarm join-token manager' and follow the instructions.\n")
	return nil
}

func printJoin(w io.Writer, role, token, addr string) {
	fmt.Fprintf(w, "To add a %s to this swarm, run the following command:\n\n    sw swarm join --token %s %s\n", role, token, addr)
}

func swarmJoin(c *cli.Context) error {
	if err := exactArgs(c, 1, "swarm join [OPTIONS] HOST:PORT"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	resp, err := cl.Join(c.Context, api.JoinRequest{RemoteAddr: c.Args().First(), Token: c.String("token"),
		AdvertiseAddr: c.String("advertise-addr"), ListenAddr: c.String("listen-addr")})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "This node joined a swarm as a %s.\n", resp.Role)
	return nil
}

func swarmJoinToken(c *cli.Context) error {
	if err := exactArgs(c, 1, "swarm join-token [OPTIONS] (worker|manager)"); err != nil {
		return err
	}
	role := c.Args().First()
	if role != "worker" && role != "manager" {
		return usageError("unknown role %q: want worker or manager", role)
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	if c.Bool("rotate") {
		if err := cl.UpdateSwarm(c.Context, api.SwarmUpdateRequest{RotateWorker: role == "worker", RotateManager: role == "manager"}); err != nil {
			return err
		}
		if !c.Bool("quiet") {
			fmt.Fprintf(c.App.Writer, "Successfully rotated %s join token.\n\n", role)
		}
	}
	sw, err := cl.Swarm(c.Context)
	if err != nil {
		return err
	}
	token := sw.JoinTokens.Worker
	if role == "manager" {
		token = sw.JoinTokens.Manager
	}
	if c.Bool("quiet") {
		fmt.Fprintln(c.App.Writer, token)
		return nil
	}
	printJoin(c.App.Writer, role, token, sw.ManagerAddr)
	return nil
}

func swarmUpdate(c *cli.Context) error {
	if !c.IsSet("cert-expiry") {
		return usageError("nothing to update: give --cert-expiry")
	}
	if c.Duration("cert-expiry") < time.Hour {
		return usageError("invalid --cert-expiry %s: the minimum is 1h0m0s", c.Duration("cert-expiry"))
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	if err := cl.UpdateSwarm(c.Context, api.SwarmUpdateRequest{CertExpiry: c.Duration("cert-expiry")}); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "Swarm updated.")
	return nil
}
