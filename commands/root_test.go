package commands

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"sw/cluster/hooks"
)

type cmdPlugin struct{ ran *bool }

func (cmdPlugin) Name() string        { return "hello" }
func (cmdPlugin) Description() string { return "test plugin" }
func (p cmdPlugin) Commands() []*cli.Command {
	return []*cli.Command{{Name: "hello", Action: func(*cli.Context) error { *p.ran = true; return nil }}}
}

// TestPluginCommands: a plugin's commands join the tree and run.
func TestPluginCommands(t *testing.T) {
	ran := false
	app := App([]hooks.Plugin{cmdPlugin{ran: &ran}})
	var stderr bytes.Buffer
	if code := Run(context.Background(), app, []string{"sw", "hello"}, &stderr); code != 0 || !ran {
		t.Fatalf("plugin command: code %d, ran %v, stderr %q", code, ran, stderr.String())
	}
}

// TestRunErrors: an error is one "Error: " line on stderr with exit 1.
func TestRunErrors(t *testing.T) {
	var stderr, stdout bytes.Buffer
	app := App(nil)
	app.Writer = &stdout
	code := Run(context.Background(), app, []string{"sw", "-H", "tcp://x", "service", "ls"}, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "Error: invalid daemon host") {
		t.Fatalf("code %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
}
