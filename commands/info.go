package commands

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"
)

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "display node and swarm information",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Usage: "'json' or a Go template"}},
		Action: func(c *cli.Context) error {
			cl, err := client(c)
			if err != nil {
				return err
			}
			info, err := cl.Info(c.Context)
			if err != nil {
				return err
			}
			out := c.App.Writer
			switch f := c.String("format"); f {
			case "":
			case "json":
				return json.NewEncoder(out).Encode(info)
			default:
				t, err := template.New("").Parse(strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(f))
				if err != nil {
					return fmt.Errorf("template parsing error: %w", err)
				}
				if err := t.Execute(out, info); err != nil {
					return fmt.Errorf("template parsing error: %w", err)
				}
				fmt.Fprintln(out)
				return nil
			}
			fmt.Fprintf(out, "Server:\n Server Version: %s\n Engine Version: %s\n Hostname: %s\n Data Dir: %s\n", info.Version, info.EngineVersion, info.Hostname, info.DataDir)
			fmt.Fprintf(out, " Swarm: %s\n", info.Swarm)
			if info.Swarm == "active" {
				fmt.Fprintf(out, "  NodeID: %s\n  Is Manager: %t\n  ClusterID: %s\n  Managers: %d\n  Nodes: %d\n",
					info.NodeID, info.IsManager, info.ClusterID, info.Managers, info.Nodes)
				fmt.Fprintf(out, "  Node Address: %s\n", info.NodeAddr)
				if info.IsManager {
					fmt.Fprintf(out, "  Orchestration:\n   Task History Retention Limit: %d\n", info.TaskHistoryLimit)
				}
				if len(info.ManagerAddrs) > 0 {
					fmt.Fprintf(out, "  Manager Addresses:\n")
					for _, a := range info.ManagerAddrs {
						fmt.Fprintf(out, "   %s\n", a)
					}
				}
			}
			if len(info.Plugins) > 0 {
				fmt.Fprintf(out, " Plugins: %s\n", strings.Join(info.Plugins, ", "))
			}
			return nil
		},
	}
}
