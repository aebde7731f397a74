package netplane

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
	"sw/cluster/watch"
)

// Engine makes and drops the engine's network for a swarm network (the
// executor).
type Engine interface {
	EnsureNetwork(ctx context.Context, clusterID string, n *types.Network) (types.TaskNetwork, error)
	DropNetwork(ctx context.Context, clusterID string, n *types.Network) error
}

// Fabric is the host's kernel side of a network (see Kernel).
type Fabric interface {
	// Bridge makes the bridge answer for exactly addrs (as /32s, beside
	// the engine's gateway address) with MAC mac ("": keep it).
	Bridge(bridge string, addrs []string, mac string) error
	// Overlay makes the network's VXLAN device, on bridge, hold exactly
	// peers; with no peers it removes the device.
	Overlay(n *types.Network, bridge, local string, port int, peers []Peer) error
	// SourceFor makes routing-mesh connections leaving on bridge come from
	// addr; Forget undoes it.
	SourceFor(ctx context.Context, bridge, addr string) error
	Forget(ctx context.Context, bridge, addr string)
}

// Plane is one node's loop. The swarm's default network (the routing
// mesh's) is on every node; another network is on the nodes that run a
// task on it, from the task's start (Attach) until no task there uses it.
type Plane struct {
	ClusterID, NodeID string
	Store             *store.Store
	Engine            Engine
	Fabric            Fabric
	// MACFor derives an endpoint's MAC from its address.
	MACFor func(addr string) string
	Log    *slog.Logger

	readyOnce sync.Once
	ready     chan struct{}

	mu   sync.Mutex          // guards made; held across engine calls only
	made map[string]localNet // the networks on this engine, by ID
}

// localNet is a network the plane made here, and what it last applied.
type localNet struct {
	net     *types.Network
	bridge  string
	applied string
	synced  time.Time
}

// refreshEvery bounds how long kernel state changed behind sw's back
// stays wrong.
const refreshEvery = 30 * time.Second

// Ready is closed once the node's engine has the default network, so
// that plugins that need it can start.
func (p *Plane) Ready() <-chan struct{} {
	p.readyOnce.Do(func() { p.ready = make(chan struct{}) })
	return p.ready
}

// Attach makes every network of t exist on the engine, so that its
// container can join them; it waits (bounded by ctx) for networks the
// allocator has not given addresses yet.
func (p *Plane) Attach(ctx context.Context, t *types.Task) error {
	if len(t.Networks) == 0 { // made before the swarm had networks: the default one
		select {
		case <-p.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	poll := backoff.Backoff{Initial: time.Second, Jitter: backoff.Equal}
	for _, a := range t.Networks {
		for {
			changed := p.Store.Changed()
			n := p.Store.View().Network(a.NetworkID)
			if n == nil {
				return fmt.Errorf("netplane: network %s is gone", a.NetworkID)
			}
			if n.Allocated() {
				if _, err := p.ensure(ctx, n); err != nil {
					return err
				}
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
			case <-poll.After(poll.Next()):
			}
		}
	}
	return nil
}

// ensure makes network n exist on the engine and returns its bridge.
func (p *Plane) ensure(ctx context.Context, n *types.Network) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ln, ok := p.made[n.ID]; ok {
		return ln.bridge, nil
	}
	tn, err := p.Engine.EnsureNetwork(ctx, p.ClusterID, n)
	if err != nil {
		return "", err
	}
	if p.made == nil {
		p.made = map[string]localNet{}
	}
	p.made[n.ID] = localNet{net: n, bridge: tn.Bridge}
	return tn.Bridge, nil
}

// stepGap is the least time between two of the plane's steps woken by
// commits: each step reads every node and every endpoint of the node's
// networks, and a swarm placing thousands of tasks commits hundreds of
// times a second. A new endpoint is programmed within it.
const stepGap = 100 * time.Millisecond

// Run keeps the node's networks matching the committed state until ctx
// ends, then takes back what it added outside the engine's networks.
func (p *Plane) Run(ctx context.Context) {
	p.Ready()
	var (
		snat, snatBridge string
		report, ensure   hooks.ErrorOnce
	)
	defer func() {
		if snat != "" {
			p.Fabric.Forget(context.Background(), snatBridge, snat)
		}
	}()
	watch.LoopEvery(ctx, p.Store, "netplane", p.Log, stepGap, func(ctx context.Context, view *store.ReadTx) (time.Time, error) {
		def := view.NetworkByName(types.DefaultNetworkName)
		if def == nil || !def.Allocated() {
			return time.Time{}, nil // the leader's allocator makes it
		}
		needed := p.needed(view, def)
		var errs []error
		for _, n := range needed {
			if _, err := p.ensure(ctx, n); err != nil {
				errs = append(errs, err)
			}
		}
		ensure.Report(p.Log, "netplane: cannot make a task network", firstErr(errs))
		if _, ok := p.madeNet(def.ID); !ok {
			return time.Now().Add(2 * time.Second), nil
		}
		select {
		case <-p.ready:
		default:
			close(p.ready)
		}
		errs = errs[:0]
		wake := time.Now().Add(refreshEvery)
		for id, ln := range p.snapshot() {
			n := view.Network(id)
			if n == nil || !wanted(needed, id) {
				if err := p.drop(ctx, view, ln); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			st := Want(view, n, p.NodeID, p.MACFor)
			key := fmt.Sprint(st)
			if key == ln.applied && time.Since(ln.synced) < refreshEvery {
				wake = minTime(wake, ln.synced.Add(refreshEvery))
				continue
			}
			err := p.Fabric.Bridge(ln.bridge, st.Hold, st.BridgeMAC)
			if err == nil && id == def.ID && st.Addr != "" && snat != st.Addr {
				if snat != "" {
					p.Fabric.Forget(ctx, snatBridge, snat)
				}
				if err = p.Fabric.SourceFor(ctx, ln.bridge, st.Addr); err == nil {
					snat, snatBridge = st.Addr, ln.bridge
				}
			}
			if err == nil {
				err = p.Fabric.Overlay(n, ln.bridge, st.Local, view.Cluster().VXLANPort(), st.Peers)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p.record(id, key)
		}
		report.Report(p.Log, "netplane: cannot program the overlay", firstErr(errs))
		if len(errs) > 0 {
			return time.Now().Add(2 * time.Second), nil
		}
		return wake, nil
	})
}

// needed lists the networks this node must have: the default one, and
// every allocated network of a task here that still holds its addresses.
func (p *Plane) needed(view *store.ReadTx, def *types.Network) []*types.Network {
	out := []*types.Network{def}
	seen := map[string]bool{def.ID: true}
	for _, t := range view.TasksOnNode(p.NodeID) {
		if !store.HoldsAddrs(t) {
			continue
		}
		for _, a := range t.Networks {
			if n := view.Network(a.NetworkID); n != nil && n.Allocated() && !seen[n.ID] {
				seen[n.ID] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// drop takes a network no task here needs off the host: its overlay
// device, then the engine's network (refused while a container is still
// on it: tried again at the next step).
func (p *Plane) drop(ctx context.Context, view *store.ReadTx, ln localNet) error {
	if err := p.Fabric.Overlay(ln.net, ln.bridge, "", view.Cluster().VXLANPort(), nil); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.Engine.DropNetwork(ctx, p.ClusterID, ln.net); err != nil {
		return err
	}
	delete(p.made, ln.net.ID)
	return nil
}

func (p *Plane) madeNet(id string) (localNet, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ln, ok := p.made[id]
	return ln, ok
}

func (p *Plane) snapshot() map[string]localNet {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]localNet, len(p.made))
	for id, ln := range p.made {
		out[id] = ln
	}
	return out
}

func (p *Plane) record(id, key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ln, ok := p.made[id]; ok {
		ln.applied, ln.synced = key, time.Now()
		p.made[id] = ln
	}
}

func wanted(ns []*types.Network, id string) bool {
	for _, n := range ns {
		if n.ID == id {
			return true
		}
	}
	return false
}

func firstErr(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
