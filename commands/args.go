package commands

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves flags that follow positional arguments in front of
// them, so `sw service ps web -q` works as it does with Docker's CLI
// (urfave/cli stops at the first positional). `service create` is left
// alone after its image: what follows is the container's command (other
// create commands, `network create NAME --subnet …`, are reordered).
func interspersed(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	cmds, flags := app.Commands, app.Flags
	var parent, leaf *cli.Command
	i := 1
	for i < len(args) {
		a := args[i]
		if isFlag(a) {
			n := flagSpan(flags, args, i)
			out = append(out, args[i:i+n]...)
			i += n
			continue
		}
		c := findCommand(cmds, a)
		if c == nil {
			break
		}
		out = append(out, a)
		parent, leaf, cmds, flags = leaf, c, c.Subcommands, c.Flags
		i++
		if len(cmds) == 0 {
			break
		}
	}
	if leaf == nil || (leaf.Name == "create" && parent != nil && parent.Name == "service") {
		return append(out, args[i:]...)
	}
	var fl, pos []string
	for i < len(args) {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i:]...)
			break
		}
		if isFlag(a) {
			n := flagSpan(flags, args, i)
			fl = append(fl, args[i:i+n]...)
			i += n
			continue
		}
		pos = append(pos, a)
		i++
	}
	return append(append(out, fl...), pos...)
}

func isFlag(a string) bool { return len(a) > 1 && strings.HasPrefix(a, "-") }

// flagSpan is how many arguments the flag at args[i] takes up: 2 when it
// wants a value given as the next argument, else 1.
func flagSpan(flags []cli.Flag, args []string, i int) int {
	name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
	if hasValue || i+1 >= len(args) {
		return 1
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				if _, isBool := f.(*cli.BoolFlag); isBool {
					return 1
				}
				return 2
			}
		}
	}
	return 1
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
