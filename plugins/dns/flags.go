package dns

import (
	"github.com/urfave/cli/v2"

	"sw/cluster/types"
	"sw/commands"
)

var (
	_ commands.Extender           = (*Plugin)(nil)
	_ commands.ServiceFlagApplier = (*Plugin)(nil)
)

// Extend adds --endpoint-mode to `service create` and `service update`.
func (*Plugin) Extend(path string, cmd *cli.Command) {
	if path == "service create" || path == "service update" {
		cmd.Flags = append(cmd.Flags, &cli.StringFlag{Name: "endpoint-mode",
			Usage: "how the service's name resolves: vip (a virtual IP, default) or dnsrr (the task addresses)"})
	}
}

// ApplyServiceFlags sets the endpoint mode the user asked for.
func (*Plugin) ApplyServiceFlags(c *cli.Context, spec *types.ServiceSpec, _ bool) error {
	if c.IsSet("endpoint-mode") {
		spec.EndpointMode = types.EndpointMode(c.String("endpoint-mode"))
	}
	return nil
}
