// Package dns is the service discovery plugin: every service gets a
// virtual IP (VIP) from 10.0.0.0/16, and on every node a name server on
// the swarm's task network answers, to task containers, `<service>` with
// the VIP (or, for `--endpoint-mode dnsrr`, the task addresses) and
// `tasks.<service>` with the addresses of the service's running tasks;
// other names go to the host's resolvers. Connections to VIP:port are
// forwarded by the kernel (netfilter DNAT) to the running tasks, on any
// node, round-robin. The name server mechanics live in package sw/dns.
package dns

import (
	"sw/cluster/hooks"
	"sw/cluster/types"
)

// Plugin is the dns plugin.
type Plugin struct{}

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

var (
	_ hooks.Plugin           = (*Plugin)(nil)
	_ hooks.NodeRunner       = (*Plugin)(nil)
	_ hooks.ServiceMutator   = (*Plugin)(nil)
	_ hooks.ServiceValidator = (*Plugin)(nil)
	_ hooks.SpecClaimer      = (*Plugin)(nil)
)

// Name is "dns".
func (*Plugin) Name() string { return "dns" }

// Description is shown by `sw plugin ls`.
func (*Plugin) Description() string {
	return "service discovery: a virtual IP per service, <service> and tasks.<service> names in task containers"
}

// Claims marks a spec asking for DNS round-robin as needing this plugin.
func (*Plugin) Claims(spec *types.ServiceSpec) (string, bool) {
	return "--endpoint-mode dnsrr", spec.EndpointMode == types.EndpointDNSRR
}
