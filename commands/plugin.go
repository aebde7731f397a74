package commands

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/commands/format"
)

// pluginRow is one line of `plugin ls`; {{.Enabled}} prints true/false.
type pluginRow struct {
	ID          string `json:"-"`
	Name        string
	Enabled     bool
	Description string
}

const pluginTable = "table {{.Name}}\t{{.Enabled}}\t{{.Description}}"

func pluginCommand() *cli.Command {
	return &cli.Command{
		Name:  "plugin",
		Usage: "manage the swarm's plugins (ingress, ...), switched on or off for the whole swarm",
		Subcommands: []*cli.Command{
			{Name: "ls", Aliases: []string{"list"}, Usage: "list plugins", Flags: formatFlags(""),
				Action: func(c *cli.Context) error {
					ps, err := listPlugins(c)
					if err != nil {
						return err
					}
					rows := make([]any, len(ps))
					for i, p := range ps {
						rows[i] = pluginRow{ID: p.Name, Name: p.Name, Enabled: p.Enabled, Description: p.Description}
					}
					return format.Write(c.App.Writer, format.Options{Format: c.String("format"), Quiet: c.Bool("quiet"), Default: pluginTable}, rows)
				}},
			{Name: "inspect", Usage: "display detailed information on one or more plugins", ArgsUsage: "NAME [NAME...]",
				Flags: []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "format with a Go template"}},
				Action: func(c *cli.Context) error {
					if err := minArgs(c, 1, "plugin inspect NAME [NAME...]"); err != nil {
						return err
					}
					ps, err := listPlugins(c)
					if err != nil {
						return err
					}
					var out []any
					for _, name := range c.Args().Slice() {
						p := findPlugin(ps, name)
						if p == nil {
							return fmt.Errorf("no such plugin: %s", name)
						}
						out = append(out, p)
					}
					return inspectOut(c, out, nil)
				}},
			pluginSwitch("enable", true),
			pluginSwitch("disable", false),
		},
	}
}

func pluginSwitch(name string, on bool) *cli.Command {
	return &cli.Command{Name: name, Usage: name + " a plugin for the whole swarm", ArgsUsage: "NAME",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "plugin "+name+" NAME"); err != nil {
				return err
			}
			cl, err := client(c)
			if err != nil {
				return err
			}
			if err := cl.SetPlugin(c.Context, c.Args().First(), on); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, c.Args().First())
			return nil
		}}
}

func listPlugins(c *cli.Context) ([]api.Plugin, error) {
	cl, err := client(c)
	if err != nil {
		return nil, err
	}
	return cl.Plugins(c.Context)
}

func findPlugin(ps []api.Plugin, name string) *api.Plugin {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i]
		}
	}
	return nil
}
