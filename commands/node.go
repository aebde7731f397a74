package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"sw/cluster/types"
	"sw/commands/format"
)

func nodeCommand() *cli.Command {
	return &cli.Command{
		Name:  "node",
		Usage: "manage swarm nodes",
		Subcommands: append([]*cli.Command{
			{Name: "ls", Aliases: []string{"list"}, Usage: "list nodes in the swarm",
				Flags: formatFlags("filter output (id=, name=, role=)"), Action: nodeLs},
			{Name: "inspect", Usage: "display detailed information on one or more nodes", ArgsUsage: "NODE [NODE...]",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "pretty", Usage: "print in a human friendly format"},
					&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "format with a Go template"}},
				Action: nodeInspect},
			{Name: "ps", Usage: "list tasks running on one or more nodes (default: this node)", ArgsUsage: "[NODE...]",
				Flags:  append(formatFlags("filter output (id=, name=, desired-state=, service=)"), &cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate output"}),
				Action: nodePs},
		}, nodeWriteCommands()...),
	}
}

func nodeLs(c *cli.Context) error {
	f, err := format.ParseFilters(c.StringSlice("filter"), "id", "name", "role")
	if err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	info, err := cl.Info(c.Context)
	if err != nil {
		return err
	}
	nodes, err := cl.Nodes(c.Context)
	if err != nil {
		return err
	}
	leader := info.LeaderID
	sort.SliceStable(nodes, func(i, j int) bool {
		if nodes[i].Hostname != nodes[j].Hostname {
			return nodes[i].Hostname < nodes[j].Hostname
		}
		return nodes[i].ID < nodes[j].ID
	})
	var rows []any
	for _, n := range nodes {
		if !f.MatchPrefix("id", n.ID) || !f.MatchPrefix("name", n.Hostname) || !f.Match("role", string(n.Role)) {
			continue
		}
		rows = append(rows, newNodeRow(n, info.NodeID, leader))
	}
	return format.Write(c.App.Writer, format.Options{Format: c.String("format"), Quiet: c.Bool("quiet"), Default: nodeTable}, rows)
}

func nodeInspect(c *cli.Context) error {
	if err := minArgs(c, 1, "node inspect [OPTIONS] self|NODE [NODE...]"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	var nodes []any
	for _, ref := range c.Args().Slice() {
		if ref == "self" {
			info, err := cl.Info(c.Context)
			if err != nil {
				return err
			}
			ref = info.NodeID
		}
		n, err := cl.Node(c.Context, ref)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	return inspectOut(c, nodes, func(v any) { prettyNode(c, v.(*types.Node)) })
}

func prettyNode(c *cli.Context, n *types.Node) {
	w := c.App.Writer
	fmt.Fprintf(w, "ID:\t\t\t%s\nHostname:\t\t%s\nJoined at:\t\t%s\nStatus:\n State:\t\t\t%s\n Availability:\t\t%s\n Address:\t\t%s\n",
		n.ID, n.Hostname, n.CreatedAt.Format("2006-01-02 15:04:05.000000000 -0700 MST"), title(string(n.State)), title(string(n.Availability)), n.Addr)
	if n.Role == types.RoleManager {
		fmt.Fprintf(w, "Manager Status:\n Address:\t\t%s\n", n.ManagerAddr)
	}
	fmt.Fprintf(w, "Platform:\n Operating System:\t%s\n Architecture:\t\t%s\n", n.OS, n.Arch)
	if r := n.Description.Resources; r != (types.Resources{}) {
		fmt.Fprintf(w, "Resources:\n CPUs:\t\t\t%g\n Memory:\t\t%s\n", float64(r.NanoCPUs)/1e9, units.BytesSize(float64(r.MemoryBytes)))
	}
	fmt.Fprintf(w, "Engine Version:\t\t%s\n", n.EngineVersion)
	if len(n.Labels) > 0 {
		fmt.Fprintf(w, "Labels:\n")
		keys := make([]string, 0, len(n.Labels))
		for k := range n.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, " - %s=%s\n", k, n.Labels[k])
		}
	}
}

// inspectOut prints objects as an indented JSON array (Docker's inspect),
// through a template with --format, or pretty with --pretty.
func inspectOut(c *cli.Context, objs []any, pretty func(any)) error {
	if f := c.String("format"); f != "" {
		// Templates see the JSON form (Docker's field paths), as maps,
		// its numbers as written (json.Number): 25275990016, not the
		// 2.5275990016e+10 a float64 prints.
		generic := make([]any, len(objs))
		for i, o := range objs {
			b, err := json.Marshal(o)
			if err != nil {
				return err
			}
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				return err
			}
			generic[i] = m
		}
		return format.Write(c.App.Writer, format.Options{Format: f}, generic)
	}
	if c.Bool("pretty") {
		for i, o := range objs {
			if i > 0 {
				fmt.Fprintln(c.App.Writer)
			}
			pretty(o)
		}
		return nil
	}
	b, err := json.MarshalIndent(objs, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.App.Writer, string(b))
	return err
}
