package netplane

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
	"sw/cluster/watch"
)

// Engine makes the engine's network for a swarm network (the executor).
type Engine interface {
	EnsureNetwork(ctx context.Context, clusterID string, n *types.Network) (types.TaskNetwork, error)
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

// Plane is one node's loop.
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
}

// refreshEvery bounds how long kernel state changed behind sw's back
// stays wrong.
const refreshEvery = 30 * time.Second

// Ready is closed once the node's engine has the default network, so
// that tasks and plugins that need it can start.
func (p *Plane) Ready() <-chan struct{} {
	p.readyOnce.Do(func() { p.ready = make(chan struct{}) })
	return p.ready
}

// Run keeps the node's network matching the committed state until ctx
// ends, then takes back what it added outside the engine's network.
func (p *Plane) Run(ctx context.Context) {
	p.Ready()
	ready := p.ready
	var (
		made     string // the network ID the engine's network was made for
		bridge   string
		snat     string
		report   hooks.ErrorOnce
		lastSync time.Time
		applied  string
	)
	defer func() {
		if snat != "" {
			p.Fabric.Forget(context.Background(), bridge, snat)
		}
	}()
	watch.Loop(ctx, p.Store, "netplane", p.Log, func(ctx context.Context, view *store.ReadTx) (time.Time, error) {
		def := view.NetworkByName(types.DefaultNetworkName)
		if def == nil {
			return time.Time{}, nil // the leader's allocator makes it
		}
		if made != def.ID {
			tn, err := p.Engine.EnsureNetwork(ctx, p.ClusterID, def)
			if err != nil {
				report.Report(p.Log, "netplane: cannot make the task network", err)
				return time.Now().Add(2 * time.Second), nil
			}
			made, bridge = def.ID, tn.Bridge
			select {
			case <-ready:
			default:
				close(ready)
			}
		}
		st := Want(view, def, p.NodeID, p.MACFor)
		key := fmt.Sprint(st)
		if key == applied && time.Since(lastSync) < refreshEvery {
			return lastSync.Add(refreshEvery), nil
		}
		var err error
		if st.Addr != "" {
			err = p.Fabric.Bridge(bridge, st.Hold, st.BridgeMAC)
			if err == nil && snat != st.Addr {
				if snat != "" {
					p.Fabric.Forget(ctx, bridge, snat)
				}
				if err = p.Fabric.SourceFor(ctx, bridge, st.Addr); err == nil {
					snat = st.Addr
				}
			}
		}
		if err == nil {
			err = p.Fabric.Overlay(def, bridge, st.Local, portOf(view), st.Peers)
		}
		report.Report(p.Log, "netplane: cannot program the overlay", err)
		if err != nil {
			return time.Now().Add(2 * time.Second), nil
		}
		applied, lastSync = key, time.Now()
		return lastSync.Add(refreshEvery), nil
	})
}

func portOf(view *store.ReadTx) int {
	return view.Cluster().VXLANPort()
}
