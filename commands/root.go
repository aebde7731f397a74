// Package commands is sw's command line: urfave/cli definitions that parse
// flags, call the daemon through cluster/api's client, and print results
// as tables, Go templates or JSON.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/hooks"
	"sw/cluster/types"
)

// Contributor is a plugin that adds commands to the CLI.
type Contributor interface {
	Commands() []*cli.Command
}

// Extender is a plugin that adds flags or subcommands to core commands.
// Extend is called once for every core command, with its path below sw
// ("service create", "swarm"); it changes cmd in place.
type Extender interface {
	Extend(path string, cmd *cli.Command)
}

// ServiceFlagApplier is a plugin with flags on `service create` and
// `service update` (added by Extend) that change the spec: create calls it
// on a fresh spec, update on the stored one (update is then true).
type ServiceFlagApplier interface {
	ApplyServiceFlags(c *cli.Context, spec *types.ServiceSpec, update bool) error
}

// NodeFlagApplier is a plugin with flags on `node update` (added by
// Extend) that change the update request.
type NodeFlagApplier interface {
	ApplyNodeFlags(c *cli.Context, req *api.NodeUpdateRequest) error
}

// App builds the command tree: the core commands, then those the plugins
// contribute, in registry order.
func App(plugins []hooks.Plugin) *cli.App {
	app := &cli.App{
		Name:                 "sw",
		Usage:                "a container orchestrator with Docker Swarm mode's model, as one binary",
		Version:              "0.1.0",
		EnableBashCompletion: true,
		// Values keep their commas: `-p mode=host,published=80,target=8080`
		// and `-e LIST=a,b` are one value each, as with Docker's CLI.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "host", Aliases: []string{"H"}, EnvVars: []string{"SW_HOST"}, Value: api.DefaultHost,
				Usage: "daemon socket to connect to"},
			&cli.BoolFlag{Name: "no-color", Usage: "never colour the output"},
		},
		Before: func(c *cli.Context) error {
			if c.Bool("no-color") {
				color.NoColor = true
			}
			return nil
		},
		Commands: []*cli.Command{
			daemonCommand(plugins),
			infoCommand(),
			swarmCommand(),
			nodeCommand(),
			serviceCommand(),
			networkCommand(),
			pluginCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, p := range plugins {
		if e, ok := p.(Extender); ok {
			extend(e, "", app.Commands)
		}
	}
	for _, p := range plugins {
		if c, ok := p.(Contributor); ok {
			app.Commands = append(app.Commands, c.Commands()...)
		}
	}
	app.Metadata = map[string]any{pluginsKey: plugins}
	return app
}

const pluginsKey = "plugins"

// extend offers every command below cmds to e, depth first.
func extend(e Extender, prefix string, cmds []*cli.Command) {
	for _, cmd := range cmds {
		path := strings.TrimSpace(prefix + " " + cmd.Name)
		e.Extend(path, cmd)
		extend(e, path, cmd.Subcommands)
	}
}

// applyServiceFlags lets each plugin's service flags change spec.
func applyServiceFlags(c *cli.Context, spec *types.ServiceSpec, update bool) error {
	ps, _ := c.App.Metadata[pluginsKey].([]hooks.Plugin)
	var errs []error
	for _, p := range ps {
		if a, ok := p.(ServiceFlagApplier); ok {
			errs = append(errs, a.ApplyServiceFlags(c, spec, update))
		}
	}
	return errors.Join(errs...)
}

// applyNodeFlags lets each plugin's node update flags change req.
func applyNodeFlags(c *cli.Context, req *api.NodeUpdateRequest) error {
	ps, _ := c.App.Metadata[pluginsKey].([]hooks.Plugin)
	var errs []error
	for _, p := range ps {
		if a, ok := p.(NodeFlagApplier); ok {
			errs = append(errs, a.ApplyNodeFlags(c, req))
		}
	}
	return errors.Join(errs...)
}

// Run executes the CLI and returns the process exit code. Errors go to
// stderr as "Error: …"; nothing is printed on stdout for them.
func Run(ctx context.Context, app *cli.App, args []string, stderr io.Writer) int {
	err := app.RunContext(ctx, interspersed(app, args))
	if err == nil {
		return 0
	}
	code := 1
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	msg := err.Error()
	if msg != "" {
		red := color.New(color.FgRed)
		if !isTerminal(os.Stderr) {
			red.DisableColor()
		}
		fmt.Fprintln(stderr, red.Sprint("Error: ")+strings.TrimSpace(msg))
	}
	return code
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" && os.Getenv("NO_COLOR") == ""
}

func client(c *cli.Context) (*api.Client, error) {
	return api.NewClient(c.String("host"))
}

// usageError is a mistake in the command line. It exits 1, like every
// other sw error (Docker uses 1 for most errors and 125 for its own flag
// errors; scripts here need only zero versus non-zero).
func usageError(format string, a ...any) error {
	return cli.Exit(fmt.Sprintf(format, a...), 1)
}

func exactArgs(c *cli.Context, n int, usage string) error {
	if c.NArg() != n {
		return usageError("%q requires exactly %d argument(s).\nUsage:  sw %s", c.Command.FullName(), n, usage)
	}
	return nil
}

func minArgs(c *cli.Context, n int, usage string) error {
	if c.NArg() < n {
		return usageError("%q requires at least %d argument(s).\nUsage:  sw %s", c.Command.FullName(), n, usage)
	}
	return nil
}

// formatFlags are the scripting flags every list command has.
func formatFlags(filterUsage string) []cli.Flag {
	fs := []cli.Flag{
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display IDs"},
		&cli.StringFlag{Name: "format", Usage: "format output: 'table', 'table TEMPLATE', 'json', or a Go template"},
	}
	if filterUsage != "" {
		fs = append(fs, &cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: filterUsage})
	}
	return fs
}
