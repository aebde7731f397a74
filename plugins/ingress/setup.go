// Package ingress is the routing mesh plugin: every published port of
// every service listens on this node and is balanced round-robin over the
// service's running tasks (loadbalancer does the L4 work). It also refuses
// a service whose published port another service already uses.
package ingress

import (
	"sw/cluster/hooks"
	"sw/cluster/types"
)

// Plugin is the ingress plugin.
type Plugin struct{}

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

var (
	_ hooks.Plugin           = (*Plugin)(nil)
	_ hooks.NodeRunner       = (*Plugin)(nil)
	_ hooks.ServiceValidator = (*Plugin)(nil)
	_ hooks.SpecClaimer      = (*Plugin)(nil)
)

// Claims marks specs with published ports as needing the routing mesh.
func (*Plugin) Claims(spec *types.ServiceSpec) (string, bool) {
	return "published ports (-p)", len(spec.Ports) > 0
}

// Name is "ingress".
func (*Plugin) Name() string { return "ingress" }

// Description is shown by `sw plugin ls`.
func (*Plugin) Description() string {
	return "routing mesh: published ports on every node, balanced over running tasks"
}
