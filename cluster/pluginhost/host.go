// Package pluginhost hosts the swarm's plugins: which of them are on,
// running their hooks over service specs and node updates, supervising
// their per-node runners and delivering lifecycle events to them, each
// hook guarded so that a plugin's panic does not take the daemon down.
// The daemon hands it the store and the proposals it needs; it keeps no
// state of its own between calls.
package pluginhost

import (
	"context"
	"log/slog"
	"maps"

	"sw/cluster/api"
	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Host runs the hooks of the plugins built into this sw, in their order.
type Host struct {
	// Plugins are the plugins built in, in the order their hooks run.
	Plugins []hooks.Plugin
	// Log receives the plugins' start, stop, restart and panic lines.
	Log *slog.Logger
}

// Initial is the switch set of a new swarm: each plugin's default,
// changed by `swarm init --plugin/--no-plugin` (on and off).
func (h *Host) Initial(on, off []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, p := range h.Plugins {
		set[p.Name()] = hooks.EnabledByDefault(p)
	}
	for _, group := range []struct {
		names []string
		value bool
	}{{on, true}, {off, false}} {
		for _, n := range group.names {
			if _, ok := set[n]; !ok {
				return nil, store.Errorf(api.ErrBadRequest, "unknown plugin %q: known plugins are %s", n, h.names())
			}
			set[n] = group.value
		}
	}
	return set, nil
}

func (h *Host) names() string {
	s := ""
	for i, p := range h.Plugins {
		if i > 0 {
			s += ", "
		}
		s += p.Name()
	}
	return s
}

// Lookup is the plugin called name, or nil if none is built in.
func (h *Host) Lookup(name string) hooks.Plugin {
	for _, p := range h.Plugins {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// List is the plugins with their state in the swarm view shows.
func (h *Host) List(view *store.ReadTx) []api.Plugin {
	set := view.PluginSwitches()
	out := make([]api.Plugin, 0, len(h.Plugins))
	for _, p := range h.Plugins {
		out = append(out, api.Plugin{Name: p.Name(), Enabled: hooks.Enabled(p, set), Description: p.Description()})
	}
	return out
}

// Set switches plugin name on or off in the swarm view shows: commit is
// given the next cluster record to store (the daemon's proposal). Setting
// what is already set is no error.
func (h *Host) Set(ctx context.Context, view *store.ReadTx, name string, on bool, commit func(context.Context, *types.Cluster) error) error {
	if h.Lookup(name) == nil {
		return &store.NotFoundError{Kind: "plugin", Ref: name}
	}
	c := view.Cluster()
	if c == nil {
		return store.Errorf(api.ErrUnavailable, "the swarm's state is not initialised yet")
	}
	next := *c
	next.Plugins = maps.Clone(c.Plugins)
	if next.Plugins == nil {
		next.Plugins = map[string]bool{}
	}
	next.Plugins[name] = on
	return commit(ctx, &next)
}
