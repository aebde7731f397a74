package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"sw/cluster/agent"
	"sw/cluster/api"
	"sw/cluster/consensus"
	"sw/cluster/dispatcher"
	"sw/cluster/hooks"
	"sw/cluster/membership"
	"sw/cluster/orchestrator"
	"sw/cluster/scheduler"
	"sw/cluster/store"
	"sw/cluster/types"
)

// swarm is everything that runs while the node is in a swarm.
type swarm struct {
	id     *identity
	store  *store.Store
	raft   *consensus.Node
	pool   *membership.Pool
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// ready is closed once the local store holds every committed entry;
	// the agent waits for it so that it never acts on a half-replayed log.
	ready     chan struct{}
	readyOnce sync.Once
}

func (sw *swarm) markReady() { sw.readyOnce.Do(func() { close(sw.ready) }) }

func now() time.Time { return time.Now().UTC() }

// startSwarm brings up Raft, gossip, the leader loops, the agent and the
// plugins for this node's identity.
func (d *Daemon) startSwarm(ctx context.Context, id *identity, bootstrap bool) (*swarm, error) {
	st := store.New()
	r, err := consensus.Open(consensus.Config{
		Dir: filepath.Join(d.cfg.DataDir, "raft"), NodeID: id.NodeID,
		BindAddr: id.ListenAddr, AdvertiseAddr: id.AdvertiseAddr, Bootstrap: bootstrap, Logger: d.log,
	}, st)
	if err != nil {
		return nil, err
	}
	bindIP, _, _ := net.SplitHostPort(id.ListenAddr)
	advIP, _, _ := net.SplitHostPort(id.AdvertiseAddr)
	pool, err := membership.Start(membership.Config{NodeID: id.NodeID, BindIP: bindIP, AdvIP: advIP,
		Port: membership.DefaultPort, Tags: map[string]string{"role": id.Role, "id": id.NodeID, "raft": id.AdvertiseAddr}})
	if err != nil {
		r.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	sw := &swarm{id: id, store: st, raft: r, pool: pool, cancel: cancel, ready: make(chan struct{})}
	d.exec.SetNodeID(id.NodeID)
	sw.wg.Add(2)
	go func() { defer sw.wg.Done(); d.leadership(runCtx, sw) }()
	go func() {
		defer sw.wg.Done()
		a := &agent.Agent{NodeID: id.NodeID, Exec: d.exec, Log: d.log,
			Source: &dispatcher.Local{NodeID: id.NodeID, Store: st, Proposer: r, Ready: sw.ready}}
		a.Run(runCtx)
	}()
	host := &pluginHost{nodeID: id.NodeID, store: st, log: d.log, ingress: d.cfg.IngressAddr}
	for _, p := range d.cfg.Plugins {
		if nr, ok := p.(hooks.NodeRunner); ok {
			sw.wg.Add(1)
			go func() { defer sw.wg.Done(); runPlugin(runCtx, p.Name(), nr, host, d.log) }()
		}
	}
	d.mu.Lock()
	d.swarm = sw
	d.mu.Unlock()
	return sw, nil
}

// runPlugin runs a plugin's node hook, reporting its failure or panic by
// name without taking the daemon down.
func runPlugin(ctx context.Context, name string, nr hooks.NodeRunner, host hooks.Host, log *slog.Logger) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("plugin panicked", "plugin", name, "panic", v)
		}
	}()
	if err := nr.RunNode(ctx, host); err != nil && ctx.Err() == nil {
		log.Error("plugin failed", "plugin", name, "err", err)
	}
}

// leadership runs the leader-only loops while this node leads, and keeps
// its own node record current.
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
	orch := &orchestrator.Orchestrator{Store: sw.store, Proposer: sw.raft, Now: now, Log: d.log}
	sched := &scheduler.Scheduler{Store: sw.store, Proposer: sw.raft, Now: now, Log: d.log}
	l.wg.Add(2)
	go func() { defer l.wg.Done(); orch.Run(lctx) }()
	go func() { defer l.wg.Done(); sched.Run(lctx) }()
	return l
}

// registerSelf writes this node's record: ready, with its current engine
// version and addresses. A node keeps its role, availability and labels.
func (d *Daemon) registerSelf(ctx context.Context, sw *swarm) error {
	goos, arch := platform()
	n := types.Node{ID: sw.id.NodeID, Hostname: d.cfg.Hostname, Role: types.NodeRole(sw.id.Role),
		Availability: types.AvailabilityActive, State: types.NodeReady, Addr: hostOf(sw.id.AdvertiseAddr),
		EngineVersion: d.engine, OS: goos, Arch: arch}
	if sw.id.Role == string(types.RoleManager) {
		n.ManagerAddr = sw.id.AdvertiseAddr
	}
	if old := sw.store.View().Node(n.ID); old != nil {
		n.Availability, n.Labels, n.Role = old.Availability, old.Labels, old.Role
	}
	return sw.raft.Propose(ctx, &store.Command{Changes: []store.Change{{PutNode: &n}}})
}

func (sw *swarm) stop() {
	sw.cancel()
	sw.wg.Wait()
	_ = sw.pool.Close()
	_ = sw.raft.Close()
}

// Init makes this node the single manager of a new swarm.
func (d *Daemon) Init(ctx context.Context, req api.InitRequest) (api.InitResponse, error) {
	if d.active() != nil {
		return api.InitResponse{}, store.Errorf(api.ErrBadRequest, "%s", errInSwarm)
	}
	listen, adv, err := resolveAddrs(req.ListenAddr, req.AdvertiseAddr)
	if err != nil {
		return api.InitResponse{}, store.Errorf(api.ErrBadRequest, "%s", err)
	}
	id := &identity{NodeID: types.NewID(), ClusterID: types.NewID(), Role: string(types.RoleManager),
		AdvertiseAddr: adv, ListenAddr: listen}
	_ = os.RemoveAll(filepath.Join(d.cfg.DataDir, "raft"))
	sw, err := d.startSwarm(ctx, id, true)
	if err != nil {
		return api.InitResponse{}, err
	}
	if err := d.bootstrapState(ctx, sw); err != nil {
		d.abandon(sw)
		return api.InitResponse{}, err
	}
	if err := saveIdentity(d.cfg.DataDir, id); err != nil {
		d.abandon(sw)
		return api.InitResponse{}, err
	}
	return api.InitResponse{NodeID: id.NodeID, ClusterID: id.ClusterID, AdvertiseAddr: adv}, nil
}

// bootstrapState waits for this single voter to lead, then writes the
// cluster and this node.
func (d *Daemon) bootstrapState(ctx context.Context, sw *swarm) error {
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for !sw.raft.IsLeader() {
		select {
		case <-wctx.Done():
			return errors.New("swarm init: this node did not become the Raft leader in time")
		case <-time.After(20 * time.Millisecond):
		}
	}
	c := &types.Cluster{ID: sw.id.ClusterID, TaskHistoryLimit: types.DefaultTaskHistoryLimit}
	if err := sw.raft.Propose(wctx, &store.Command{Changes: []store.Change{{PutCluster: c}}}); err != nil {
		return err
	}
	return d.registerSelf(wctx, sw)
}

// abandon stops a swarm that failed to start and forgets it.
func (d *Daemon) abandon(sw *swarm) {
	d.mu.Lock()
	d.swarm = nil
	d.mu.Unlock()
	sw.stop()
	_ = os.RemoveAll(filepath.Join(d.cfg.DataDir, "raft"))
}

// Leave takes the node out of the swarm: its task containers are removed
// and its swarm state erased. The last manager needs force.
func (d *Daemon) Leave(ctx context.Context, force bool) error {
	sw := d.active()
	if sw == nil {
		return store.Errorf(api.ErrBadRequest, "this node is not part of a swarm")
	}
	if sw.id.Role == string(types.RoleManager) && !force {
		return fmt.Errorf("%w: you are attempting to leave the swarm on a node that is participating as a manager. "+
			"Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message", api.ErrBadRequest)
	}
	d.mu.Lock()
	d.swarm = nil
	d.mu.Unlock()
	sw.stop()
	cs, err := d.exec.List(ctx)
	if err == nil {
		for _, c := range cs {
			_ = d.exec.Remove(ctx, c.ID)
		}
	}
	_ = os.Remove(filepath.Join(d.cfg.DataDir, identityFile))
	return os.RemoveAll(filepath.Join(d.cfg.DataDir, "raft"))
}

// Store returns the replicated state of a manager.
func (d *Daemon) Store() (*store.Store, error) {
	sw, err := d.current()
	if err != nil {
		return nil, err
	}
	return sw.store, nil
}

// pluginHost is what running plugins see of the daemon.
type pluginHost struct {
	nodeID, ingress string
	store           *store.Store
	log             *slog.Logger
}

var _ hooks.Host = (*pluginHost)(nil)

func (h *pluginHost) NodeID() string       { return h.nodeID }
func (h *pluginHost) Store() *store.Store  { return h.store }
func (h *pluginHost) Logger() *slog.Logger { return h.log }
func (h *pluginHost) IngressAddr() string  { return h.ingress }
