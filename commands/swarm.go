package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/backup"
	"sw/cluster/hooks"
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
					&cli.StringSliceFlag{Name: "default-addr-pool", EnvVars: []string{"SW_DEFAULT_ADDR_POOL"}, Usage: "address pool (CIDR, repeatable) network subnets come from (default 10.0.0.0/8)"},
					&cli.IntFlag{Name: "default-addr-pool-mask-length", Usage: "prefix length of the subnets cut from the pools (default 24)"},
					&cli.UintFlag{Name: "data-path-port", Usage: "UDP port of the overlay's VXLAN traffic (default 4789)"},
					&cli.StringFlag{Name: "data-path-addr", Usage: "this node's address for overlay traffic (default: the advertised address)"},
					&cli.IntFlag{Name: "task-history-limit", Usage: "task history retention limit: tasks kept per slot (default 5)"},
				},
				Action: swarmInit,
			},
			{
				Name: "join", Usage: "join a swarm as a node and/or manager", ArgsUsage: "HOST:PORT",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "token", Usage: "token for entry into the swarm", Required: true},
					&cli.StringFlag{Name: "advertise-addr", Usage: "advertised address (IP[:PORT])"},
					&cli.StringFlag{Name: "listen-addr", Usage: "listen address (IP:PORT, default 0.0.0.0:2377)"},
					&cli.StringFlag{Name: "data-path-addr", Usage: "this node's address for overlay traffic (default: the advertised address)"},
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
				Flags: []cli.Flag{&cli.DurationFlag{Name: "cert-expiry", Usage: "validity period for node certificates"},
					&cli.IntFlag{Name: "task-history-limit", Usage: "task history retention limit: tasks kept per slot"}},
				Action: swarmUpdate,
			},
			{
				Name: "backup", Usage: "write a backup of this manager's swarm state to FILE ('-': stdout), while it runs",
				ArgsUsage: "FILE",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"}},
				Action:    swarmBackup,
			},
			{
				Name: "restore", Usage: "make this node, outside any swarm, the single manager of the swarm a backup holds",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "advertise-addr", Usage: "advertised address (IP[:PORT]; default: the backed-up manager's)"},
					&cli.StringFlag{Name: "listen-addr", Usage: "listen address (IP:PORT; default: the backed-up manager's)"},
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"},
				},
				Action: swarmRestore,
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
		Plugins: c.StringSlice("plugin"), NoPlugins: c.StringSlice("no-plugin"),
		DefaultAddrPool: c.StringSlice("default-addr-pool"), SubnetSize: c.Int("default-addr-pool-mask-length"),
		DataPathPort: uint32(c.Uint("data-path-port")), DataPathAddr: c.String("data-path-addr"),
		TaskHistoryLimit: c.Int("task-history-limit")}
	if c.IsSet("task-history-limit") {
		if err := api.CheckTaskHistoryLimit(c.Int("task-history-limit")); err != nil {
			return usageError("%v", err)
		}
	}
	if c.IsSet("data-path-port") && c.Uint("data-path-port") > 65535 {
		return usageError("invalid --data-path-port %d", c.Uint("data-path-port"))
	}
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
		AdvertiseAddr: c.String("advertise-addr"), ListenAddr: c.String("listen-addr"), DataPathAddr: c.String("data-path-addr")})
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
	if !c.IsSet("cert-expiry") && !c.IsSet("task-history-limit") {
		return usageError("nothing to update: give --cert-expiry or --task-history-limit")
	}
	req := api.SwarmUpdateRequest{}
	if c.IsSet("cert-expiry") {
		if c.Duration("cert-expiry") < time.Hour {
			return usageError("invalid --cert-expiry %s: the minimum is 1h0m0s", c.Duration("cert-expiry"))
		}
		req.CertExpiry = c.Duration("cert-expiry")
	}
	if c.IsSet("task-history-limit") {
		if err := api.CheckTaskHistoryLimit(c.Int("task-history-limit")); err != nil {
			return usageError("%v", err)
		}
		req.TaskHistoryLimit = c.Int("task-history-limit")
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	if err := cl.UpdateSwarm(c.Context, req); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "Swarm updated.")
	return nil
}

// swarmBackup writes a backup to FILE through a temporary file renamed
// into place (an existing FILE is replaced only by a complete backup), or
// to stdout for '-'.
func swarmBackup(c *cli.Context) error {
	if err := exactArgs(c, 1, "swarm backup [-q] FILE"); err != nil {
		return err
	}
	file := c.Args().First()
	cl, err := client(c)
	if err != nil {
		return err
	}
	var info api.BackupInfo
	out := c.App.Writer
	if file == "-" {
		out = c.App.ErrWriter
		info, err = cl.Backup(c.Context, c.App.Writer)
	} else {
		info, err = writeBackupFile(c, cl, file)
	}
	if err != nil {
		return err
	}
	if c.Bool("quiet") {
		return nil
	}
	where := file
	if file == "-" {
		where = "stdout"
	}
	fmt.Fprintf(out, "Backup of swarm %s written to %s: %s, Raft index %d, from manager %s.\n",
		info.ClusterID, where, units.HumanSize(float64(info.Size)), info.RaftIndex, info.NodeID)
	if info.KeySealed {
		fmt.Fprintln(out, "Its keys are sealed (autolock): restoring it needs the swarm's unlock key.")
	} else {
		fmt.Fprintln(out, "Autolock is off: like the manager's data dir, the backup holds the key that decrypts the swarm's state; keep it as safe as the data dir.")
	}
	return nil
}

func writeBackupFile(c *cli.Context, cl *api.Client, file string) (api.BackupInfo, error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*") // mode 0600
	if err != nil {
		return api.BackupInfo{}, err
	}
	info, err := cl.Backup(c.Context, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return api.BackupInfo{}, err
	}
	return info, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// UnlockKeyReader is a plugin that reads an unlock key from the user
// (autolock): `swarm restore` asks it for the key of a backup whose keys
// are sealed.
type UnlockKeyReader interface {
	ReadUnlockKey(c *cli.Context) (string, error)
}

func swarmRestore(c *cli.Context) error {
	if err := exactArgs(c, 1, "swarm restore [OPTIONS] FILE"); err != nil {
		return err
	}
	file := c.Args().First()
	if file == "-" {
		return usageError("swarm restore reads a backup file: give its path (stdin may be needed for the unlock key)")
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := backup.ReadManifest(f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	req := api.RestoreRequest{AdvertiseAddr: c.String("advertise-addr"), ListenAddr: c.String("listen-addr")}
	if m.KeySealed {
		if req.UnlockKey, err = readUnlockKey(c); err != nil {
			return err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	resp, err := cl.Restore(c.Context, req, f)
	if err != nil {
		return err
	}
	if c.Bool("quiet") {
		return nil
	}
	fmt.Fprintf(c.App.Writer, "Swarm restored from %s: current node (%s) is now the only manager of swarm %s, "+
		"with its state as of Raft index %d (%s, %s).\n", file, resp.NodeID, resp.ClusterID, resp.RaftIndex,
		plural(resp.Services, "service"), plural(resp.Nodes, "node"))
	if len(resp.OtherManagers) > 0 {
		fmt.Fprintf(c.App.Writer, "\nThe old swarm's other managers are no part of it. Remove them with 'sw node demote' and 'sw node rm --force':\n")
		for _, id := range resp.OtherManagers {
			fmt.Fprintf(c.App.Writer, "    %s\n", id)
		}
		fmt.Fprintf(c.App.Writer, "then add managers with 'sw swarm join-token manager'.\n")
	}
	return nil
}

// readUnlockKey asks the plugin that reads unlock keys for one.
func readUnlockKey(c *cli.Context) (string, error) {
	ps, _ := c.App.Metadata[pluginsKey].([]hooks.Plugin)
	for _, p := range ps {
		if r, ok := p.(UnlockKeyReader); ok {
			return r.ReadUnlockKey(c)
		}
	}
	return "", errors.New("this backup was taken with autolock on and restoring it needs the unlock key, " +
		"but this sw has no plugin that reads one")
}
