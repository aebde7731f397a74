package daemon

import (
	"context"
	"fmt"
	"maps"

	"sw/cluster/api"
	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
)

// initialPlugins is the switch set of a new swarm: each plugin's default,
// changed by `swarm init --plugin/--no-plugin`.
func (d *Daemon) initialPlugins(on, off []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, p := range d.cfg.Plugins {
		set[p.Name()] = hooks.EnabledByDefault(p)
	}
	for _, group := range []struct {
		names []string
		value bool
	}{{on, true}, {off, false}} {
		for _, n := range group.names {
			if _, ok := set[n]; !ok {
				return nil, store.Errorf(api.ErrBadRequest, "unknown plugin %q: known plugins are %s", n, d.pluginNames())
			}
			set[n] = group.value
		}
	}
	return set, nil
}

func (d *Daemon) pluginNames() string {
	s := ""
	for i, p := range d.cfg.Plugins {
		if i > 0 {
			s += ", "
		}
		s += p.Name()
	}
	return s
}

// Plugins lists the plugins with their state in this swarm.
func (d *Daemon) Plugins(ctx context.Context) ([]api.Plugin, error) {
	sw, err := d.current()
	if err != nil {
		return nil, err
	}
	set := pluginSet(sw.store.View())
	out := make([]api.Plugin, 0, len(d.cfg.Plugins))
	for _, p := range d.cfg.Plugins {
		out = append(out, api.Plugin{Name: p.Name(), Enabled: hooks.Enabled(p, set), Description: p.Description()})
	}
	return out, nil
}

// SetPlugin switches a plugin on or off for the whole swarm; every node
// follows within moments. Setting what is already set is no error.
func (d *Daemon) SetPlugin(ctx context.Context, name string, on bool) error {
	sw, err := d.current()
	if err != nil {
		return err
	}
	if d.plugin(name) == nil {
		return &store.NotFoundError{Kind: "plugin", Ref: name}
	}
	c := sw.store.View().Cluster()
	if c == nil {
		return store.Errorf(api.ErrUnavailable, "the swarm's state is not initialised yet")
	}
	next := *c
	next.Plugins = maps.Clone(c.Plugins)
	if next.Plugins == nil {
		next.Plugins = map[string]bool{}
	}
	next.Plugins[name] = on
	if err := d.locker().KeepUnlockKey(&next); err != nil {
		return err
	}
	return d.propose(ctx, sw, store.Change{PutCluster: &next})
}

func (d *Daemon) plugin(name string) hooks.Plugin {
	for _, p := range d.cfg.Plugins {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

func pluginSet(view *store.ReadTx) map[string]bool {
	if c := view.Cluster(); c != nil {
		return c.Plugins
	}
	return nil
}

// mutatePlugins lets the enabled plugins complete a spec, in order. A spec
// using a disabled plugin's feature is refused here already, before the
// core rules would complain of what that plugin would have filled in.
func (d *Daemon) mutatePlugins(view *store.ReadTx, s *types.ServiceSpec, old *types.Service) error {
	return d.eachEnabled(view, s, func(p hooks.Plugin) error {
		if m, ok := p.(hooks.ServiceMutator); ok {
			return m.MutateService(view, s, old)
		}
		return nil
	})
}

// checkPlugins runs the validators of the enabled plugins, in order, and
// refuses a spec that needs a disabled one.
func (d *Daemon) checkPlugins(view *store.ReadTx, s *types.ServiceSpec, old *types.Service) error {
	return d.eachEnabled(view, s, func(p hooks.Plugin) error {
		if v, ok := p.(hooks.ServiceValidator); ok {
			return v.ValidateService(view, s, old)
		}
		return nil
	})
}

// eachEnabled calls fn for each plugin the swarm has on, in order, until
// one fails; a disabled plugin whose feature the spec uses fails it too.
func (d *Daemon) eachEnabled(view *store.ReadTx, s *types.ServiceSpec, fn func(hooks.Plugin) error) error {
	set := pluginSet(view)
	for _, p := range d.cfg.Plugins {
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

// refuseNodeClaimed refuses a node update that uses a disabled plugin's
// part (node labels need the labels plugin).
func (d *Daemon) refuseNodeClaimed(view *store.ReadTx, u *store.NodeUpdate) error {
	set := pluginSet(view)
	for _, p := range d.cfg.Plugins {
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

// nodeFilters are the plugins that limit where tasks run, enabled or not:
// switching one off must not move tasks (see hooks.NodeFilter).
func (d *Daemon) nodeFilters() []hooks.NodeFilter {
	var out []hooks.NodeFilter
	for _, p := range d.cfg.Plugins {
		if f, ok := p.(hooks.NodeFilter); ok {
			out = append(out, f)
		}
	}
	return out
}

// superviseNodeRunners runs each plugin's node hook while the swarm has
// the plugin enabled, starting and stopping it as the switch changes.
func (d *Daemon) superviseNodeRunners(ctx context.Context, st *store.Store, host hooks.Host) {
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	live := map[string]*running{}
	defer func() {
		for _, r := range live {
			r.cancel()
			<-r.done
		}
	}()
	for {
		changed := st.Changed()
		set := pluginSet(st.View())
		for _, p := range d.cfg.Plugins {
			nr, ok := p.(hooks.NodeRunner)
			if !ok {
				continue
			}
			on, r := hooks.Enabled(p, set), live[p.Name()]
			switch {
			case on && r == nil:
				pctx, cancel := context.WithCancel(ctx)
				r = &running{cancel: cancel, done: make(chan struct{})}
				live[p.Name()] = r
				go func() { defer close(r.done); runPlugin(pctx, p.Name(), nr, host, d.log) }()
				d.log.Info("plugin started", "plugin", p.Name())
			case !on && r != nil:
				r.cancel()
				<-r.done
				delete(live, p.Name())
				d.log.Info("plugin stopped", "plugin", p.Name())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
