package daemon

import (
	"context"

	"sw/cluster/agent"
	"sw/cluster/barrier"
	"sw/cluster/dispatcher"
	"sw/cluster/peer"
	"sw/cluster/store"
	"sw/cluster/types"
)

// startWorker follows the node's session on a manager and runs its tasks.
func (d *Daemon) startWorker(ctx context.Context, sw *swarm) error {
	sw.remote = dispatcher.NewRemote(sw.id.NodeID, sw.peers, sw.id.Managers, d.log)
	mirror := store.New()
	sw.remote.OnSession = func(s peer.Session) {
		d.rememberManagers(sw, s.Managers)
		tasks := append(append([]*types.Task{}, s.Serving...), notServing(s.Tasks)...)
		if err := mirror.Replace(s.Index, store.Objects{Cluster: &types.Cluster{ID: sw.id.ClusterID, Plugins: s.Plugins, DataPathPort: s.DataPathPort},
			Nodes: s.Nodes, Services: s.Services, Tasks: tasks, Networks: s.Networks}); err != nil {
			d.log.Warn("mirroring the swarm for plugins failed", "err", err)
		}
		if s.Node != nil && s.Node.Role == types.RoleManager {
			d.requestRole(sw, types.RoleManager)
		}
	}
	plane := d.startPlane(ctx, sw, mirror)
	bar := barrier.New()
	sw.wg.Add(5)
	go func() { defer sw.wg.Done(); d.serveWorkerPeers(ctx, sw, mirror) }()
	go func() { defer sw.wg.Done(); d.certLoop(ctx, sw) }()
	go func() {
		// Plugins on a worker see a read-only mirror fed by the session.
		defer sw.wg.Done()
		select {
		case <-plane.Ready():
		case <-ctx.Done():
			return
		}
		host := &pluginHost{nodeID: sw.id.NodeID, store: mirror, log: d.log, ingress: d.cfg.IngressAddr, exec: d.exec, barrier: bar}
		sw.wg.Add(1)
		go func() { defer sw.wg.Done(); d.plugins().WatchEvents(ctx, mirror, sw.id.NodeID) }()
		d.plugins().SuperviseRunners(ctx, mirror, host)
	}()
	go func() { defer sw.wg.Done(); d.gossipLoop(ctx, sw, sw.remote.Managers) }()
	go func() {
		defer sw.wg.Done()
		a := &agent.Agent{NodeID: sw.id.NodeID, Exec: d.exec, Log: d.log, Source: sw.remote, Networks: plane,
			Hostname: d.cfg.Hostname, Drain: agent.DefaultDrain, Drained: drained(bar, mirror, d.log)}
		a.Run(ctx)
	}()
	return nil
}

// rememberManagers saves a changed manager list, so a restarted worker
// knows whom to ask.
func (d *Daemon) rememberManagers(sw *swarm, managers []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(managers) == 0 || equalStrings(managers, sw.savedManagers) {
		return
	}
	id := *sw.id
	id.Managers = append([]string{}, managers...)
	if err := saveIdentity(d.cfg.DataDir, &id); err != nil {
		d.log.Warn("saving the manager list failed", "err", err)
		return
	}
	sw.savedManagers = id.Managers
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// notServing keeps the node's own tasks that are not already among the
// serving ones, so its plugins also see them stop.
func notServing(tasks []*types.Task) []*types.Task {
	var out []*types.Task
	for _, t := range tasks {
		if t.Status.State != types.TaskRunning || t.DesiredState != types.TaskRunning {
			out = append(out, t)
		}
	}
	return out
}
