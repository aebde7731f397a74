package daemon

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"sw/cluster/agent"
	"sw/cluster/api"
	"sw/cluster/barrier"
	"sw/cluster/consensus"
	"sw/cluster/dispatcher"
	"sw/cluster/executor"
	"sw/cluster/forward"
	"sw/cluster/hooks"
	"sw/cluster/membership"
	"sw/cluster/netplane"
	"sw/cluster/overlay"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// swarm is everything that runs while the node is in a swarm. Managers
// also hold the Raft state (mux, raft, store); workers follow a manager
// through remote.
type swarm struct {
	id     *identity
	tls    atomic.Pointer[tlsMaterial]
	dialer *peer.Dialer
	peers  *peer.Client
	pool   *membership.Pool
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// managers only
	mux  *peer.Mux
	raft *consensus.Node
	// raftUp is raft once it runs, for the mux's authorizer, which runs
	// from the moment the port opens.
	raftUp   atomic.Pointer[consensus.Node]
	store    *store.Store
	proposer store.Proposer
	// catchUp makes the store hold every write acknowledged so far
	// (forward.Forwarder.CatchUp), before a read.
	catchUp func(context.Context) error
	peerSrv *peerServer
	// beats are the heartbeats this manager took from nodes that do not
	// gossip (and, on the leader, those relayed by the other managers).
	beats dispatcher.Beats
	// reports commits the workers' status reports in batches.
	reports *dispatcher.Batcher
	// mgrCache is the managers' addresses as of a store index.
	mgrCache struct {
		sync.Mutex
		index uint64
		addrs []string
	}
	// ready is closed once the local store holds every committed entry;
	// readers and the agent wait for it.
	ready     chan struct{}
	readyOnce sync.Once

	// workers only
	remote        *dispatcher.Remote
	savedManagers []string // guarded by Daemon.mu
}

func (sw *swarm) markReady() { sw.readyOnce.Do(func() { close(sw.ready) }) }

// isReady reports whether the store has caught up (ready is closed).
func (sw *swarm) isReady() bool {
	select {
	case <-sw.ready:
		return true
	default:
		return false
	}
}

// waitReady returns once the store has caught up, or with forward.ErrNoLeader
// after readyTimeout, or with ctx's error.
func (sw *swarm) waitReady(ctx context.Context) error {
	select {
	case <-sw.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(readyTimeout):
		return forward.ErrNoLeader
	}
}

func now() time.Time { return time.Now().UTC() }

// startOptions say how Raft starts on a manager.
type startOptions struct {
	bootstrap, forceNewCluster bool
	// resume: the manager picks up the Raft state on its disk (a restart,
	// an unlock, a recovery, a restore), which must exist.
	resume bool
	// fromSnapshot: the Raft dir holds only a snapshot (a restore).
	fromSnapshot bool
}

// startSwarm brings up everything the node's role needs.
func (d *Daemon) startSwarm(ctx context.Context, id *identity, opts startOptions) (*swarm, error) {
	mat, err := d.loadTLS()
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	sw := &swarm{id: id, cancel: cancel, ready: make(chan struct{}), savedManagers: id.Managers}
	sw.tls.Store(mat)
	sw.dialer = &peer.Dialer{TLS: sw.clientTLS}
	sw.peers = peer.NewClient(sw.dialer)
	if err := d.startGossip(sw); err != nil {
		cancel()
		return nil, err
	}
	d.exec.SetNodeID(id.NodeID)
	if id.isManager() {
		err = d.startManager(runCtx, sw, opts)
	} else {
		err = d.startWorker(runCtx, sw)
	}
	if err != nil {
		cancel()
		_ = sw.pool.Close()
		return nil, err
	}
	d.mu.Lock()
	d.swarm = sw
	d.mu.Unlock()
	return sw, nil
}

// clientTLS is the TLS config for dialing managers, with the current
// certificate.
func (sw *swarm) clientTLS() *tls.Config {
	m := sw.tls.Load()
	return pki.ClientTLS(m.ca, &m.cert)
}

// startGossip joins the serf pool with the cluster's key, then keeps
// trying to reach the known managers until someone answers.
func (d *Daemon) startGossip(sw *swarm) error {
	bindIP, _, _ := net.SplitHostPort(sw.id.ListenAddr)
	advIP, _, _ := net.SplitHostPort(sw.id.AdvertiseAddr)
	pool, err := membership.Start(membership.Config{NodeID: sw.id.NodeID, BindIP: bindIP, AdvIP: advIP,
		Port: membership.DefaultPort, Key: sw.id.GossipKey,
		Tags: map[string]string{"role": sw.id.Role, "id": sw.id.NodeID, "addr": sw.id.AdvertiseAddr}})
	if err != nil {
		return err
	}
	sw.pool = pool
	return nil
}

// gossipLoop keeps the given peers (addresses, host[:port]) in this node's
// gossip pool: at start, and whenever one is missing (a partition healed,
// a node restarted with a fresh pool of its own).
func (d *Daemon) gossipLoop(ctx context.Context, sw *swarm, peers func() []string) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		alive := sw.pool.AliveHosts()
		var addrs []string
		seen := map[string]bool{hostOf(sw.id.AdvertiseAddr): true}
		for _, a := range peers() {
			if h := hostOf(a); !seen[h] && !alive[h] {
				seen[h] = true
				addrs = append(addrs, membership.GossipAddr(h))
			}
		}
		if len(addrs) > 0 {
			if _, err := sw.pool.Join(addrs); err != nil {
				d.log.Debug("gossip: a manager did not answer", "peers", addrs, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (sw *swarm) stop() {
	sw.cancel()
	if sw.peerSrv != nil {
		sw.peerSrv.close()
	}
	if sw.mux != nil {
		_ = sw.mux.Close()
	}
	sw.wg.Wait()
	_ = sw.pool.Close()
	if sw.raft != nil {
		_ = sw.raft.Close()
	}
}

// forget erases the node's swarm state from its data dir.
func (d *Daemon) forget() error {
	_ = os.Remove(filepath.Join(d.cfg.DataDir, identityFile))
	_ = os.RemoveAll(filepath.Join(d.cfg.DataDir, certDir))
	d.keys.Reset()
	d.setLocked(nil)
	return os.RemoveAll(filepath.Join(d.cfg.DataDir, "raft"))
}

// Store returns the replicated state of a manager, once it holds every
// write acknowledged before the call (see forward.Forwarder.CatchUp).
func (d *Daemon) Store(ctx context.Context) (*store.Store, error) {
	sw, err := d.current()
	if err != nil {
		return nil, err
	}
	if sw.catchUp != nil {
		if err := sw.catchUp(ctx); err != nil {
			return nil, err
		}
	}
	return sw.store, nil
}

// errWorker is what a worker answers to a request for cluster state.
var errWorker = store.Errorf(api.ErrUnavailable, "this node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. "+
	"Please run this command on a manager node or promote the current node to a manager")

// pluginHost is what running plugins see of the daemon.
type pluginHost struct {
	nodeID, ingress string
	store           *store.Store
	log             *slog.Logger
	exec            Engine
	// barrier is what the node's agent waits on before it stops a task
	// that was serving (Applied).
	barrier *barrier.Barrier
}

func (h *pluginHost) Applied(loop string, index uint64) { h.barrier.Applied(loop, index) }

// drained is the agent's wait for the node's traffic loops to have
// applied everything st holds now (agent.Agent.Drained).
func drained(b *barrier.Barrier, st *store.Store, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		if idx := st.Index(); !b.Wait(ctx, idx, agent.MaxDrain) && ctx.Err() == nil {
			log.Warn("stopping a task before this node's routing mesh and name server dropped it",
				"index", idx, "waited", agent.MaxDrain)
		}
	}
}

var _ hooks.Host = (*pluginHost)(nil)

func (h *pluginHost) NodeID() string       { return h.nodeID }
func (h *pluginHost) Store() *store.Store  { return h.store }
func (h *pluginHost) Logger() *slog.Logger { return h.log }
func (h *pluginHost) IngressAddr() string  { return h.ingress }

func (h *pluginHost) TaskNetwork() types.TaskNetwork { return h.exec.Network() }
func (h *pluginHost) SetTaskDNS(on bool)             { h.exec.SetDNS(on) }

func (h *pluginHost) TaskNetworks() map[string]types.TaskNetwork { return h.exec.TaskNetworks() }

// startPlane runs the node's share of the swarm's networks (package
// netplane) from st, owned by the swarm's wait group.
func (d *Daemon) startPlane(ctx context.Context, sw *swarm, st *store.Store) *netplane.Plane {
	p := &netplane.Plane{ClusterID: sw.id.ClusterID, NodeID: sw.id.NodeID, Store: st, Engine: d.exec,
		Fabric: d.cfg.Fabric, MACFor: executor.MACFor, Log: d.log}
	p.Ready()
	sw.wg.Add(1)
	go func() { defer sw.wg.Done(); p.Run(ctx) }()
	return p
}

// removeSwarmNetworks takes a left swarm's networks off this host: their
// VXLAN devices, then the engine's networks no container uses.
func (d *Daemon) removeSwarmNetworks(ctx context.Context, clusterID string) {
	for _, br := range d.exec.SwarmBridges(ctx, clusterID) {
		if err := overlay.RemoveFrom(br); err != nil {
			d.log.Warn("removing the swarm's overlay devices", "bridge", br, "err", err)
		}
	}
	d.exec.RemoveNetwork(ctx, clusterID)
}
