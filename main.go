// Command sw is a container orchestrator with Docker Swarm mode's model:
// one binary that is both the CLI and the daemon (`sw daemon`).
package main

import (
	"context"
	"fmt"
	"os"

	"sw/commands"
	"sw/plugins"
)

func main() {
	registry := plugins.Builtins()
	if err := plugins.Check(registry); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	os.Exit(commands.Run(context.Background(), commands.App(registry), os.Args, os.Stderr))
}
