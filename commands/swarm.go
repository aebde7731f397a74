package commands

import (
	"fmt"

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
				},
				Action: func(c *cli.Context) error {
					cl, err := client(c)
					if err != nil {
						return err
					}
					resp, err := cl.Init(c.Context, api.InitRequest{AdvertiseAddr: c.String("advertise-addr"), ListenAddr: c.String("listen-addr")})
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Swarm initialized: current node (%s) is now a manager.\n", resp.NodeID)
					return nil
				},
			},
			{
				Name:  "leave",
				Usage: "leave the swarm",
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
