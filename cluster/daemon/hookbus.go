package daemon

import (
	"context"

	"sw/cluster/events"
	"sw/cluster/hooks"
	"sw/cluster/store"
)

// watchHooks tells the enabled plugins of committed changes: nodes joining
// and leaving, services created, updated and removed, and this node's
// tasks starting and stopping. It reads committed state only.
func (d *Daemon) watchHooks(ctx context.Context, st *store.Store, nodeID string) {
	var state events.State
	var last uint64
	for {
		changed := st.Changed()
		view := st.View()
		var evs []events.Event
		services, all := st.ServicesChangedSince(last)
		evs, state = events.DiffChanged(state, view, nodeID, services, all || last == 0)
		last = view.Index
		set := pluginSet(view)
		for _, ev := range evs {
			for _, p := range d.cfg.Plugins {
				if hooks.Enabled(p, set) {
					d.guard(p.Name(), func() { deliver(ctx, p, ev) })
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

// leaderHooks tells the enabled plugins that this manager gained (true)
// or lost the leadership.
func (d *Daemon) leaderHooks(ctx context.Context, st *store.Store, elected bool) {
	set := pluginSet(st.View())
	for _, p := range d.cfg.Plugins {
		w, ok := p.(hooks.LeaderWatcher)
		if !ok || !hooks.Enabled(p, set) {
			continue
		}
		d.guard(p.Name(), func() {
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
func (d *Daemon) guard(name string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			d.log.Error("plugin hook panicked", "plugin", name, "panic", v)
		}
	}()
	fn()
}
