package autolock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"sw/cluster/api"
)

// Extend adds the autolock flags and commands to the core ones.
func (p *Plugin) Extend(path string, cmd *cli.Command) {
	switch path {
	case "swarm":
		cmd.Subcommands = append(cmd.Subcommands, unlockKeyCommand(), unlockCommand())
	case "swarm init":
		cmd.Flags = append(cmd.Flags, &cli.BoolFlag{Name: "autolock",
			Usage: "enable manager autolocking (requiring an unlock key to start a stopped manager)"})
		cmd.Action = wrapInit(cmd.Action)
	case "swarm update":
		cmd.Flags = append(cmd.Flags, &cli.BoolFlag{Name: "autolock",
			Usage: "change manager autolocking setting (--autolock=true|false)"})
		cmd.Action = wrapUpdate(cmd.Action)
	case "plugin enable":
		cmd.Action = wrapEnable(cmd.Action)
	}
}

func client(c *cli.Context) (*api.Client, error) { return api.NewClient(c.String("host")) }

// PrintKey writes the unlock key as Docker does, for people.
func PrintKey(w io.Writer, key string) {
	fmt.Fprintf(w, "To unlock a swarm manager after it restarts, run the `sw swarm unlock` command and provide the following key:\n\n"+
		"    %s\n\n"+
		"Please remember to store this key in a password manager, since without it you will not be able to restart the manager.\n", key)
}

// printCurrentKey asks the daemon for the key and prints it.
func printCurrentKey(c *cli.Context) error {
	cl, err := client(c)
	if err != nil {
		return err
	}
	key, err := cl.UnlockKey(c.Context)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer)
	PrintKey(c.App.Writer, key)
	return nil
}

// wrapInit: `swarm init --autolock` turns the plugin on in the new swarm
// (as --plugin autolock) and prints the unlock key after the usual text.
func wrapInit(next cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if !c.Bool("autolock") {
			return next(c)
		}
		if c.Bool("force-new-cluster") {
			return cli.Exit("--autolock cannot be combined with --force-new-cluster: the recovered swarm keeps its setting; "+
				"change it afterwards with 'sw swarm update --autolock=true|false'", 1)
		}
		for _, n := range c.StringSlice("no-plugin") {
			if n == "autolock" {
				return cli.Exit("--autolock and --no-plugin autolock contradict each other", 1)
			}
		}
		if err := c.Set("plugin", "autolock"); err != nil {
			return err
		}
		if err := next(c); err != nil {
			return err
		}
		return printCurrentKey(c)
	}
}

// wrapUpdate: `swarm update --autolock=true|false` switches the plugin;
// turning it on prints the unlock key.
func wrapUpdate(next cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if !c.IsSet("autolock") {
			return next(c)
		}
		cl, err := client(c)
		if err != nil {
			return err
		}
		on := c.Bool("autolock")
		// The other settings first: when they are refused, autolock
		// has not been switched either.
		if c.IsSet("cert-expiry") {
			if err := next(c); err != nil { // prints "Swarm updated."
				return err
			}
		}
		if err := cl.SetPlugin(c.Context, "autolock", on); err != nil {
			return err
		}
		if !c.IsSet("cert-expiry") {
			fmt.Fprintln(c.App.Writer, "Swarm updated.")
		}
		if on {
			return printCurrentKey(c)
		}
		return nil
	}
}

// wrapEnable: `sw plugin enable autolock` prints the key it created.
func wrapEnable(next cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := next(c); err != nil || c.Args().First() != "autolock" {
			return err
		}
		return printCurrentKey(c)
	}
}

func unlockKeyCommand() *cli.Command {
	return &cli.Command{
		Name: "unlock-key", Usage: "manage the unlock key (autolock plugin)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display the key"},
			&cli.BoolFlag{Name: "rotate", Usage: "rotate the unlock key"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return cli.Exit("\"sw swarm unlock-key\" accepts no arguments.\nUsage:  sw swarm unlock-key [-q] [--rotate]", 1)
			}
			cl, err := client(c)
			if err != nil {
				return err
			}
			if c.Bool("rotate") {
				if err := cl.UpdateSwarm(c.Context, api.SwarmUpdateRequest{RotateUnlockKey: true}); err != nil {
					return err
				}
				if !c.Bool("quiet") {
					fmt.Fprint(c.App.Writer, "Successfully rotated manager unlock key.\n\n")
				}
			}
			key, err := cl.UnlockKey(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("quiet") {
				fmt.Fprintln(c.App.Writer, key)
				return nil
			}
			PrintKey(c.App.Writer, key)
			return nil
		},
	}
}

func unlockCommand() *cli.Command {
	return &cli.Command{
		Name: "unlock", Usage: "unlock a locked manager (autolock plugin); the key is read from stdin, or prompted for on a terminal",
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return cli.Exit("\"sw swarm unlock\" accepts no arguments.\nUsage:  sw swarm unlock", 1)
			}
			key, err := readKey(c.App.Reader, c.App.Writer)
			if err != nil {
				return err
			}
			cl, err := client(c)
			if err != nil {
				return err
			}
			return cl.Unlock(c.Context, key)
		},
	}
}

// ReadUnlockKey reads an unlock key as `sw swarm unlock` does, for
// `sw swarm restore` of a backup taken with autolock on.
func (p *Plugin) ReadUnlockKey(c *cli.Context) (string, error) {
	return readKey(c.App.Reader, c.App.Writer)
}

// readKey reads the unlock key: on a terminal after a prompt, without
// echo; otherwise the first line of the input.
func readKey(in io.Reader, out io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(out, "Please enter unlock key: ")
		line, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(out)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return checkKeyGiven(string(line))
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return checkKeyGiven(line)
}

func checkKeyGiven(line string) (string, error) {
	key := strings.TrimSpace(line)
	if key == "" {
		return "", cli.Exit("no unlock key given: type it at the prompt or pipe it in (echo SWMKEY-1-... | sw swarm unlock)", 1)
	}
	return key, nil
}
