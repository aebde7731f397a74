package pluginhost

import (
	"context"

	"sw/cluster/events"
	"sw/cluster/hooks"
	"sw/cluster/store"
)

// WatchEvents tells the enabled plugins of the changes committed to st:
// nodes joining and leaving, services created, updated and removed, and
// node nodeID's tasks starting and stopping (package events). It reads
// committed state only, and returns once ctx is done.
func (h *Host) WatchEvents(ctx context.Context, st *store.Store, nodeID string) {
	var state events.State
	var last uint64
	for {
		changed := st.Changed()
		view := st.View()
		var evs []events.Event
		services, all := st.ServicesChangedSince(last)
		evs, state = events.DiffChanged(state, view, nodeID, services, all || last == 0)
		last = view.Index
		set := view.PluginSwitches()
		for _, ev := range evs {
			for _, p := range h.Plugins {
				if hooks.Enabled(p, set) {
					h.guard(p.Name(), func() { deliver(ctx, p, ev) })
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// deliver calls the hook of p that matches the event, if p has it.
func deliver(ctx context.Context, p hooks.Plugin, ev events.Event) {
	switch ev.Kind {
	case events.NodeJoined, events.NodeLeft:
		if w, ok := p.(hooks.NodeWatcher); ok {
			if ev.Kind == events.NodeJoined {
				w.NodeJoined(ctx, ev.Node)
			} else {
				w.NodeLeft(ctx, ev.Node)
			}
		}
	case events.ServiceCreated, events.ServiceUpdated, events.ServiceRemoved:
		if w, ok := p.(hooks.ServiceWatcher); ok {
			switch ev.Kind {
			case events.ServiceCreated:
				w.ServiceCreated(ctx, ev.Service)
			case events.ServiceUpdated:
				w.ServiceUpdated(ctx, ev.Old, ev.Service)
			default:
				w.ServiceRemoved(ctx, ev.Service)
			}
		}
	case events.TaskStarted, events.TaskStopped:
		if w, ok := p.(hooks.TaskWatcher); ok {
			if ev.Kind == events.TaskStarted {
				w.TaskStarted(ctx, ev.Task)
			} else {
				w.TaskStopped(ctx, ev.Task)
			}
		}
	}
}

// Leader tells the plugins enabled in the swarm view shows that this
// manager gained (elected) or lost the leadership (hooks.LeaderWatcher).
func (h *Host) Leader(ctx context.Context, view *store.ReadTx, elected bool) {
	set := view.PluginSwitches()
	for _, p := range h.Plugins {
		w, ok := p.(hooks.LeaderWatcher)
		if !ok || !hooks.Enabled(p, set) {
			continue
		}
		h.guard(p.Name(), func() {
			if elected {
				w.LeaderElected(ctx)
			} else {
				w.LeaderRevoked(ctx)
			}
		})
	}
}

// guard runs a plugin's hook, logging a panic with the plugin's name
// instead of taking the daemon down.
func (h *Host) guard(name string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			h.Log.Error("plugin hook panicked", "plugin", name, "panic", v)
		}
	}()
	fn()
}
