package pluginhost

import (
	"fmt"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
)

// The host runs the mutators and validators of the enabled plugins as one.
var (
	_ hooks.ServiceMutator   = (*Host)(nil)
	_ hooks.ServiceValidator = (*Host)(nil)
)

// MutateService lets the enabled plugins complete a spec, in order. A
// spec using a disabled plugin's feature is refused here already, before
// the core rules would complain of what that plugin would have filled in.
func (h *Host) MutateService(view *store.ReadTx, s *types.ServiceSpec, old *types.Service) error {
	return h.eachEnabled(view, s, func(p hooks.Plugin) error {
		if m, ok := p.(hooks.ServiceMutator); ok {
			return m.MutateService(view, s, old)
		}
		return nil
	})
}

// ValidateService runs the validators of the enabled plugins, in order,
// and refuses a spec that needs a disabled one.
func (h *Host) ValidateService(view *store.ReadTx, s *types.ServiceSpec, old *types.Service) error {
	return h.eachEnabled(view, s, func(p hooks.Plugin) error {
		if v, ok := p.(hooks.ServiceValidator); ok {
			return v.ValidateService(view, s, old)
		}
		return nil
	})
}

// eachEnabled calls fn for each plugin the swarm has on, in order, until
// one fails; a disabled plugin whose feature the spec uses fails it too.
func (h *Host) eachEnabled(view *store.ReadTx, s *types.ServiceSpec, fn func(hooks.Plugin) error) error {
	set := view.PluginSwitches()
	for _, p := range h.Plugins {
		var err error
		if hooks.Enabled(p, set) {
			err = fn(p)
		} else {
			err = refuseClaimed(p, s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func refuseClaimed(p hooks.Plugin, s *types.ServiceSpec) error {
	if c, ok := p.(hooks.SpecClaimer); ok {
		if feature, claimed := c.Claims(s); claimed {
			return disabledError(p, feature)
		}
	}
	return nil
}

// disabledError says that feature needs plugin p, which is off.
func disabledError(p hooks.Plugin, feature string) error {
	return fmt.Errorf("plugin %s is disabled: %s need it; enable it with 'sw plugin enable %s'", p.Name(), feature, p.Name())
}

// RefuseNodeUpdate refuses a node update that uses a disabled plugin's
// part (node labels need the labels plugin).
func (h *Host) RefuseNodeUpdate(view *store.ReadTx, u *store.NodeUpdate) error {
	set := view.PluginSwitches()
	for _, p := range h.Plugins {
		c, ok := p.(hooks.NodeClaimer)
		if !ok || hooks.Enabled(p, set) {
			continue
		}
		if feature, claimed := c.ClaimsNodeUpdate(u); claimed {
			return disabledError(p, feature)
		}
	}
	return nil
}

// NodeFilters are the plugins that limit where tasks run, enabled or not:
// switching one off must not move tasks (see hooks.NodeFilter).
func (h *Host) NodeFilters() []hooks.NodeFilter {
	var out []hooks.NodeFilter
	for _, p := range h.Plugins {
		if f, ok := p.(hooks.NodeFilter); ok {
			out = append(out, f)
		}
	}
	return out
}
