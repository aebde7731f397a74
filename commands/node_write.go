package commands

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
)

func nodeWriteCommands() []*cli.Command {
	return []*cli.Command{
		{Name: "update", Usage: "update a node", ArgsUsage: "NODE",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "availability", Usage: "availability of the node: active, pause or drain"},
				&cli.StringFlag{Name: "role", Usage: "role of the node: worker or manager"},
			},
			Action: func(c *cli.Context) error {
				if err := exactArgs(c, 1, "node update [OPTIONS] NODE"); err != nil {
					return err
				}
				req := api.NodeUpdateRequest{Availability: c.String("availability"), Role: c.String("role")}
				if err := applyNodeFlags(c, &req); err != nil {
					return err
				}
				if req.Empty() {
					return usageError("nothing to update: give --availability, --role, --label-add or --label-rm")
				}
				return updateNodes(c, []string{c.Args().First()}, req, "")
			}},
		{Name: "promote", Usage: "promote one or more nodes to manager in the swarm", ArgsUsage: "NODE [NODE...]",
			Action: func(c *cli.Context) error {
				if err := minArgs(c, 1, "node promote NODE [NODE...]"); err != nil {
					return err
				}
				return updateNodes(c, c.Args().Slice(), api.NodeUpdateRequest{Role: "manager"}, "Node %s promoted to a manager in the swarm.")
			}},
		{Name: "demote", Usage: "demote one or more nodes from manager in the swarm", ArgsUsage: "NODE [NODE...]",
			Action: func(c *cli.Context) error {
				if err := minArgs(c, 1, "node demote NODE [NODE...]"); err != nil {
					return err
				}
				return updateNodes(c, c.Args().Slice(), api.NodeUpdateRequest{Role: "worker"}, "Manager %s demoted in the swarm.")
			}},
		{Name: "rm", Aliases: []string{"remove"}, Usage: "remove one or more nodes from the swarm", ArgsUsage: "NODE [NODE...]",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "force remove a node from the swarm"}},
			Action: func(c *cli.Context) error {
				if err := minArgs(c, 1, "node rm [OPTIONS] NODE [NODE...]"); err != nil {
					return err
				}
				cl, err := client(c)
				if err != nil {
					return err
				}
				return removeEach(c, func(ref string) error { return cl.RemoveNode(c.Context, ref, c.Bool("force")) }, plainError)
			}},
	}
}

// updateNodes applies one change to several nodes, reporting each; done
// is the success line (with the node as %s), or "" to print the node.
func updateNodes(c *cli.Context, refs []string, req api.NodeUpdateRequest, done string) error {
	cl, err := client(c)
	if err != nil {
		return err
	}
	failed := false
	for _, ref := range refs {
		resp, err := cl.UpdateNode(c.Context, ref, req)
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "Error: %v\n", err)
			failed = true
			continue
		}
		if resp.Warning != "" {
			fmt.Fprintf(c.App.ErrWriter, "Warning: %s\n", resp.Warning)
		}
		if done == "" {
			fmt.Fprintln(c.App.Writer, ref)
		} else {
			fmt.Fprintf(c.App.Writer, done+"\n", ref)
		}
	}
	if failed {
		return cli.Exit("", 1)
	}
	return nil
}
