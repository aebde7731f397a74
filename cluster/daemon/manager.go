package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"sw/cluster/agent"
	"sw/cluster/allocator"
	"sw/cluster/barrier"
	"sw/cluster/consensus"
	"sw/cluster/dispatcher"
	"sw/cluster/forward"
	"sw/cluster/keyfile"
	"sw/cluster/orchestrator"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/scheduler"
	"sw/cluster/store"
	"sw/cluster/types"
)

// startManager opens the node's TLS port, starts Raft over it, serves the
// peer API, and runs the leader loops (when leading), the agent and the
// plugins.
func (d *Daemon) startManager(ctx context.Context, sw *swarm, opts startOptions) error {
	sw.store = store.New()
	// No client certificate required: joining nodes have none yet.
	mux, err := peer.Listen(sw.id.ListenAddr, sw.peerServerTLS(false), sw.authorizePeer, d.log)
	if err != nil {
		return err
	}
	sw.mux = mux
	adv, err := resolveTCP(sw.id.AdvertiseAddr)
	if err != nil {
		mux.Close()
		return err
	}
	r, err := consensus.Open(consensus.Config{
		Dir: d.raftDir(), NodeID: sw.id.NodeID, AdvertiseAddr: sw.id.AdvertiseAddr,
		Bootstrap: opts.bootstrap, ForceNewCluster: opts.forceNewCluster, Logger: d.log, Keys: d.keys.Keyring(),
		MinFree:          uint64(max(d.cfg.MinFreeDisk, 0)),
		HeartbeatTimeout: d.cfg.RaftTimeout, ElectionTimeout: d.cfg.RaftTimeout,
		RequireState: opts.resume, FromSnapshot: opts.fromSnapshot,
		Layer: &peer.StreamLayer{Listener: mux.Listener(peer.KindRaft), Dialer: sw.dialer, Advertise: adv},
	}, sw.store)
	if err != nil {
		mux.Close()
		return err
	}
	sw.raft = r
	sw.raftUp.Store(r)
	fwd := forward.New(r, sw.store, sw.peers)
	sw.proposer, sw.catchUp = fwd, fwd.CatchUp
	sw.reports = &dispatcher.Batcher{Proposer: fwd}
	sw.wg.Add(1)
	go func() { defer sw.wg.Done(); sw.reports.Run(ctx) }()
	sw.peerSrv = d.servePeers(ctx, sw)
	sw.wg.Add(7)
	go func() { defer sw.wg.Done(); recheckRaftPeers(ctx, sw.mux) }()
	go func() { defer sw.wg.Done(); d.leadership(ctx, sw) }()
	go func() { defer sw.wg.Done(); d.certLoop(ctx, sw) }()
	go func() {
		defer sw.wg.Done()
		select {
		case <-sw.ready:
			d.watchOwnRole(ctx, sw)
		case <-ctx.Done():
		}
	}()
	go func() { defer sw.wg.Done(); d.watchReady(ctx, sw) }()
	sw.wg.Add(1)
	go func() {
		defer sw.wg.Done()
		select {
		case <-sw.ready:
			keyfile.KeepSealed(ctx, sw.store, d.keys, sw.raft, d.log)
		case <-ctx.Done():
		}
	}()
	go func() { defer sw.wg.Done(); d.gossipLoop(ctx, sw, func() []string { return d.gossipPeers(sw) }) }()
	sw.wg.Add(1)
	go func() {
		defer sw.wg.Done()
		dispatcher.RelayBeats(ctx, &sw.beats, func() string {
			if addr, _ := sw.raft.Leader(); addr != sw.id.AdvertiseAddr {
				return addr
			}
			return ""
		}, sw.peers, types.HeartbeatPeriod/2, d.log)
	}()
	plane := d.startPlane(ctx, sw, sw.store)
	bar := barrier.New()
	go func() {
		defer sw.wg.Done()
		a := &agent.Agent{NodeID: sw.id.NodeID, Exec: d.exec, Log: d.log,
			Source:   &dispatcher.Local{NodeID: sw.id.NodeID, Store: sw.store, Proposer: sw.proposer, Ready: sw.ready},
			Networks: plane, Hostname: d.cfg.Hostname, Drain: agent.DefaultDrain, Drained: drained(bar, sw.store, d.log)}
		a.Run(ctx)
	}()
	host := &pluginHost{nodeID: sw.id.NodeID, store: sw.store, log: d.log, ingress: d.cfg.IngressAddr, exec: d.exec, barrier: bar}
	sw.wg.Add(1)
	go func() {
		defer sw.wg.Done()
		select {
		case <-plane.Ready():
			sw.wg.Add(1)
			go func() { defer sw.wg.Done(); d.plugins().WatchEvents(ctx, sw.store, sw.id.NodeID) }()
			d.plugins().SuperviseRunners(ctx, sw.store, host)
		case <-ctx.Done():
		}
	}()
	return nil
}

// refuseRemoved is the TLS check that turns away removed nodes.
func (sw *swarm) refuseRemoved(id pki.NodeIdentity) error {
	if sw.store == nil {
		return nil
	}
	if c := sw.store.View().Cluster(); c != nil && c.Removed(id.NodeID) {
		return fmt.Errorf("node %s was removed from the swarm", id.NodeID)
	}
	return nil
}

// authorizePeer opens the Raft stream only to a manager certificate (the
// handshake already checked its CA, its cluster and the removed list)
// that Raft admits (consensus.Node.Admit: a member of the configuration,
// once this manager is caught up).
func (sw *swarm) authorizePeer(kind byte, id *pki.NodeIdentity) error {
	if err := peer.ManagersOnRaft(kind, id); err != nil || kind != peer.KindRaft {
		return err
	}
	r := sw.raftUp.Load()
	if r == nil {
		return errors.New("raft is not running here yet")
	}
	return r.Admit(id.NodeID)
}

// recheckRaftPeers has the mux judge its open Raft connections again every
// second, so that one opened by a manager since demoted or removed does
// not outlive that (Raft keeps a working connection open indefinitely).
func recheckRaftPeers(ctx context.Context, mux *peer.Mux) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			mux.Recheck()
		}
	}
}

// managerAddrs lists the control addresses of the managers: from the store
// once it is caught up, else as last remembered.
func (d *Daemon) managerAddrs(sw *swarm) []string {
	if sw.store != nil {
		v := sw.store.View()
		sw.mgrCache.Lock()
		defer sw.mgrCache.Unlock()
		if sw.mgrCache.index != v.Index || sw.mgrCache.addrs == nil {
			// Every session answer names the managers: at a thousand
			// workers, listing the nodes for each was a share of the
			// managers' CPU. The list changes only with a commit.
			out := []string{}
			for _, n := range v.Nodes() {
				if n.Role == types.RoleManager && n.ManagerAddr != "" {
					out = append(out, n.ManagerAddr)
				}
			}
			sw.mgrCache.index, sw.mgrCache.addrs = v.Index, out
		}
		if len(sw.mgrCache.addrs) > 0 {
			return append([]string(nil), sw.mgrCache.addrs...)
		}
	}
	return sw.id.Managers
}

// gossipPeers are the nodes a manager keeps in its gossip pool: the
// managers, then every node the store has as ready. A manager restarted
// with a fresh pool must reach the workers itself: a worker that still
// gets answers from the manager's address never notices the restart, and
// without this the leader would call it down and move its tasks.
func (d *Daemon) gossipPeers(sw *swarm) []string {
	out := d.managerAddrs(sw)
	if !sw.isReady() {
		return out
	}
	for _, n := range sw.store.View().Nodes() {
		if n.State == types.NodeReady && n.Addr != "" {
			out = append(out, n.Addr)
		}
	}
	return out
}

// watchReady marks the store ready once it has applied every entry known
// to be committed; the API and the agent wait for that.
func (d *Daemon) watchReady(ctx context.Context, sw *swarm) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !sw.raft.CaughtUp() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	sw.markReady()
}

// leadership runs the leader-only loops while this node leads.
func (d *Daemon) leadership(ctx context.Context, sw *swarm) {
	var loops *leaderLoops
	defer func() { loops.stop() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		leading := sw.raft.IsLeader()
		switch {
		case leading && loops == nil:
			loops = d.lead(ctx, sw)
		case !leading && loops != nil:
			d.log.Info("leadership lost; stopping the manager loops")
			loops.stop()
			loops = nil
			d.plugins().Leader(ctx, sw.store.View(), false)
		}
		select {
		case <-ctx.Done():
			return
		case <-sw.raft.LeaderCh():
		case <-tick.C:
		}
	}
}

// leaderLoops are the running leader-only loops.
type leaderLoops struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (l *leaderLoops) stop() {
	if l == nil {
		return
	}
	l.cancel()
	l.wg.Wait()
}

// lead starts the leader-only loops once every committed entry is applied;
// it returns nil (to be retried) if that cannot be confirmed.
func (d *Daemon) lead(ctx context.Context, sw *swarm) *leaderLoops {
	if err := sw.raft.Barrier(ctx); err != nil {
		d.log.Warn("leader barrier failed; will retry", "err", err)
		return nil
	}
	sw.markReady()
	d.log.Info("this node is the leader; starting the manager loops")
	lctx, cancel := context.WithCancel(ctx)
	l := &leaderLoops{cancel: cancel}
	if err := d.registerSelf(lctx, sw); err != nil {
		d.log.Warn("registering this node failed", "err", err)
	}
	orch := &orchestrator.Orchestrator{Store: sw.store, Proposer: sw.raft, Now: now, Log: d.log, Filters: d.plugins().NodeFilters()}
	sched := &scheduler.Scheduler{Store: sw.store, Proposer: sw.raft, Now: now, Log: d.log, Filters: d.plugins().NodeFilters()}
	alloc := &allocator.Allocator{Store: sw.store, Proposer: sw.raft, Log: d.log,
		Avoid: func(ctx context.Context) []string { return d.exec.ForeignSubnets(ctx, sw.id.ClusterID) }}
	l.wg.Add(5)
	go func() { defer l.wg.Done(); alloc.Run(lctx) }()
	go func() { defer l.wg.Done(); d.reconcileVoters(lctx, sw) }()
	go func() { defer l.wg.Done(); orch.Run(lctx) }()
	go func() { defer l.wg.Done(); sched.Run(lctx) }()
	go func() { defer l.wg.Done(); d.watchMembers(lctx, sw) }()
	d.plugins().Leader(lctx, sw.store.View(), true)
	return l
}

// registerSelf writes this node's record: ready, with its current engine
// version and addresses. A node keeps its role, availability and labels.
func (d *Daemon) registerSelf(ctx context.Context, sw *swarm) error {
	n := d.nodeRecord(sw.id)
	if old := sw.store.View().Node(n.ID); old != nil {
		n.Availability, n.Labels, n.Role, n.CreatedAt = old.Availability, old.Labels, old.Role, old.CreatedAt
	}
	return sw.raft.Propose(ctx, &store.Command{Changes: []store.Change{{PutNode: n}}})
}

// nodeRecord describes this node as it joins or rejoins.
func (d *Daemon) nodeRecord(id *identity) *types.Node {
	goos, arch := platform()
	n := &types.Node{ID: id.NodeID, Hostname: d.cfg.Hostname, Role: types.NodeRole(id.Role),
		Availability: types.AvailabilityActive, State: types.NodeReady, Addr: hostOf(id.AdvertiseAddr),
		EngineVersion: d.engine, OS: goos, Arch: arch, DataAddr: id.DataPathAddr, EngineID: d.engineID,
		PeerAddr: id.AdvertiseAddr, Description: types.NodeDescription{Resources: d.resources}}
	if id.isManager() {
		n.ManagerAddr = id.AdvertiseAddr
	}
	return n
}
