// Package labels is the node labels and placement constraints plugin:
// `sw node update --label-add K=V --label-rm K` sets labels on nodes, and
// `--constraint` on `service create` (`--constraint-add/--constraint-rm`
// on `service update`) limits a service's tasks to the nodes that meet
// every constraint: node.labels.NAME, node.role, node.hostname, node.id,
// node.platform.os and node.platform.arch, with == or !=. A task that no
// node can take stays pending and says why in `service ps`.
package labels

import (
	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
	"sw/commands"
)

// Plugin is the labels plugin.
type Plugin struct{}

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

var (
	_ hooks.Plugin                = (*Plugin)(nil)
	_ hooks.ServiceValidator      = (*Plugin)(nil)
	_ hooks.SpecClaimer           = (*Plugin)(nil)
	_ hooks.NodeClaimer           = (*Plugin)(nil)
	_ hooks.NodeFilter            = (*Plugin)(nil)
	_ commands.Extender           = (*Plugin)(nil)
	_ commands.ServiceFlagApplier = (*Plugin)(nil)
	_ commands.NodeFlagApplier    = (*Plugin)(nil)
)

// Name is "labels".
func (*Plugin) Name() string { return "labels" }

// Description is shown by `sw plugin ls`.
func (*Plugin) Description() string {
	return "node labels (node update --label-add) and placement constraints (service --constraint)"
}

// Claims marks specs with placement constraints as needing the plugin.
func (*Plugin) Claims(spec *types.ServiceSpec) (string, bool) {
	return "placement constraints and preferences (--constraint, --placement-pref)",
		len(spec.Placement.Constraints) > 0 || len(spec.Placement.Preferences) > 0
}

// ClaimsNodeUpdate marks label changes as needing the plugin.
func (*Plugin) ClaimsNodeUpdate(u *store.NodeUpdate) (string, bool) {
	return "node labels (--label-add/--label-rm)", u.SetLabels
}

// ValidateService refuses a spec whose constraints do not parse.
func (*Plugin) ValidateService(_ *store.ReadTx, spec *types.ServiceSpec, _ *types.Service) error {
	_, err := ParseAll(spec.Placement.Constraints)
	return err
}

// Explain is what a task says while no node meets its constraints.
const Explain = "scheduling constraints not satisfied"

// NodeCheck returns the test of a placement's constraints (nil without
// constraints). Constraints that do not parse (the store holds only valid
// ones) let no node through rather than every node.
func (*Plugin) NodeCheck(p types.Placement) (func(*types.Node) bool, string) {
	if len(p.Constraints) == 0 {
		return nil, ""
	}
	cs, err := ParseAll(p.Constraints)
	if err != nil {
		return func(*types.Node) bool { return false }, "invalid placement constraints"
	}
	return func(n *types.Node) bool { return MatchAll(cs, n) }, Explain
}
