package pluginhost

import (
	"context"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/hooks"
	"sw/cluster/store"
)

// SuperviseRunners runs each plugin's node hook (hooks.NodeRunner) with
// host while the swarm st holds has the plugin enabled, starting and
// stopping it as the switch changes, restarting it with a backoff when it
// fails. It returns once ctx is done and every runner has stopped.
func (h *Host) SuperviseRunners(ctx context.Context, st *store.Store, host hooks.Host) {
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
		set := st.View().PluginSwitches()
		for _, p := range h.Plugins {
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
				go func() { defer close(r.done); h.run(pctx, p.Name(), nr, host) }()
				h.Log.Info("plugin started", "plugin", p.Name())
			case !on && r != nil:
				r.cancel()
				<-r.done
				delete(live, p.Name())
				h.Log.Info("plugin stopped", "plugin", p.Name())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// run runs a plugin's node hook, reporting its failure or panic by name
// without taking the daemon down.
func (h *Host) run(ctx context.Context, name string, nr hooks.NodeRunner, host hooks.Host) {
	restart := backoff.Backoff{Initial: time.Second, Max: 30 * time.Second, Jitter: backoff.Equal}
	for {
		started := time.Now()
		if h.runOnce(ctx, name, nr, host) {
			return
		}
		if time.Since(started) > time.Minute { // it ran a while: start again soon
			restart.Reset()
		}
		d := restart.Next()
		h.Log.Info("plugin restarting", "plugin", name, "in", d)
		select {
		case <-ctx.Done():
			return
		case <-restart.After(d):
		}
	}
}

// runOnce runs the plugin's node hook; false if it failed (error or
// panic) while it was still meant to run.
func (h *Host) runOnce(ctx context.Context, name string, nr hooks.NodeRunner, host hooks.Host) (done bool) {
	defer func() {
		if v := recover(); v != nil {
			h.Log.Error("plugin panicked", "plugin", name, "panic", v)
			done = ctx.Err() != nil
		}
	}()
	if err := nr.RunNode(ctx, host); err != nil && ctx.Err() == nil {
		h.Log.Error("plugin failed", "plugin", name, "err", err)
		return false
	}
	return true
}
