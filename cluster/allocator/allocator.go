// Package allocator is the leader-only loop that hands out every network
// address of the swarm, from committed state, as swarmkit's allocator
// does: a subnet and a VXLAN ID per network, an address per task per
// network, a virtual IP per vip-mode service per network, and an address
// per node on the default network (the source of the routing mesh's
// connections from that node). What it gives is kept in Raft; an address
// is free again once its holder is gone (store.HoldsAddrs for tasks).
// Plan is a pure function of the state.
package allocator

import (
	"fmt"
	"net/netip"
	"sort"

	"sw/cluster/ipam"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Plan returns the changes that complete the allocation: the default
// network if the swarm has none (alone: the rest waits for it to
// commit), then the missing addresses of tasks, services and nodes, each
// the lowest free one.
func Plan(view *store.ReadTx, newID func() string) ([]store.Change, error) {
	return PlanFrom(view, newID, nil, nil)
}

// Cursors say where the search for each network's next free address
// starts (by network ID); a missing one starts at the bottom.
type Cursors map[string]netip.Addr

// PlanFrom is Plan with serial allocation, as libnetwork's for swarm
// networks: each network's next address is the first free one from its
// cursor on, wrapping round, and cursors moves past what this plan gave.
// An address just freed is then not given again at once: a task reported
// FAILED as unhealthy still has its container, on its node, for the
// container's stop grace period. The allocator loop keeps cursors
// between its passes (a new leader starts them again from the bottom:
// the store refuses an address still held, whatever the plan).
//
// avoid, if set, lists subnets a network's subnet must not overlap besides
// the swarm's own networks: those the engine already has for other uses
// (a subnet there would make the engine refuse the swarm's bridge with
// "Pool overlaps"). It is asked only when a network needs a subnet.
func PlanFrom(view *store.ReadTx, newID func() string, cursors Cursors, avoid func() []string) ([]store.Change, error) {
	c := view.Cluster()
	if c == nil {
		return nil, nil
	}
	taken := func(have []*types.Network) []*types.Network {
		if avoid == nil {
			return have
		}
		out := append([]*types.Network(nil), have...)
		for _, s := range avoid() {
			out = append(out, &types.Network{ID: "engine/" + s, Subnet: s})
		}
		return out
	}
	def := view.NetworkByName(types.DefaultNetworkName)
	if def == nil {
		n, err := DefaultNetwork(c, taken(view.Networks()), newID())
		if err != nil {
			return nil, err
		}
		return []store.Change{{CreateNetwork: n}}, nil
	}
	var out []store.Change
	var errs []error
	nets := map[string]*pool{}
	all := view.Networks()
	var avoided []*types.Network // the networks, and the engine's, once a subnet is needed
	for _, n := range all {
		if !n.Allocated() {
			if avoided == nil {
				avoided = taken(all)
			}
			a, err := allocateNetwork(c, n, avoided)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			// Mark it taken for the next network of this plan.
			avoided = append(avoided, &types.Network{ID: n.ID + "/planned", Subnet: a.Subnet, VNI: a.VNI})
			out = append(out, store.Change{Allocate: a})
			continue // its addresses once it is committed
		}
		p, err := newPool(n, cursors[n.ID])
		if err != nil {
			return nil, err
		}
		nets[n.ID] = p
	}
	if cursors != nil {
		defer func() {
			for id, p := range nets {
				cursors[id] = p.cursor
			}
		}()
	}
	exists := map[string]bool{}
	for _, n := range view.Networks() {
		exists[n.ID] = true
	}
	tasks := view.Tasks()
	services := view.Services()
	nodes := view.Nodes()
	for _, t := range tasks {
		if store.HoldsAddrs(t) {
			for _, a := range t.Networks {
				nets[a.NetworkID].take(a.Addr)
			}
		}
	}
	for _, s := range services {
		for _, a := range s.VirtualIPs {
			nets[a.NetworkID].take(a.Addr)
		}
	}
	for _, n := range nodes {
		for _, a := range n.Attachments {
			nets[a.NetworkID].take(a.Addr)
		}
	}
	give := func(as []types.Attachment) ([]types.Attachment, bool) {
		if types.Allocated(as) {
			return as, false
		}
		next := make([]types.Attachment, len(as))
		for i, a := range as {
			next[i] = a
			if a.Addr == "" {
				p := nets[a.NetworkID]
				if p == nil {
					if !exists[a.NetworkID] {
						errs = append(errs, fmt.Errorf("allocator: network %s is gone", a.NetworkID))
					}
					return nil, false // or not allocated yet: later
				}
				addr, err := p.next()
				if err != nil {
					errs = append(errs, err)
					return nil, false
				}
				next[i].Addr = addr
			}
		}
		return next, true
	}
	for _, t := range tasks {
		if !store.HoldsAddrs(t) {
			continue
		}
		if as, ok := give(t.Networks); ok {
			out = append(out, store.Change{Allocate: &store.NetworkAllocation{TaskID: t.ID, Attachments: as}})
		}
	}
	for _, s := range services {
		want := wantVIPs(s, def.ID)
		if sameNetworks(s.VirtualIPs, want) {
			continue
		}
		if as, ok := give(keep(s.VirtualIPs, want)); ok || len(want) == 0 {
			for i := range as {
				if n := view.Network(as[i].NetworkID); n != nil {
					if sub, err := netip.ParsePrefix(n.Subnet); err == nil {
						as[i].Bits = sub.Bits()
					}
				}
			}
			out = append(out, store.Change{Allocate: &store.NetworkAllocation{ServiceID: s.ID, Attachments: as}})
		}
	}
	for _, n := range nodes {
		if types.AddrOn(n.Attachments, def.ID) != "" {
			continue
		}
		if as, ok := give(append(append([]types.Attachment{}, n.Attachments...), types.Attachment{NetworkID: def.ID})); ok {
			out = append(out, store.Change{Allocate: &store.NetworkAllocation{NodeID: n.ID, Attachments: as}})
		}
	}
	if len(errs) > 0 {
		return out, errs[0]
	}
	return out, nil
}

// wantVIPs lists the networks a service has a virtual IP on: each of its
// networks in vip mode, none in dnsrr mode.
func wantVIPs(s *types.Service, defaultID string) []string {
	if s.Spec.EndpointMode == types.EndpointDNSRR {
		return nil
	}
	return types.ServiceNetworks(&s.Spec, defaultID)
}

// allocateNetwork gives a network made by a user its subnet (the one it
// asked for, or the next free one of the pools), gateway and VXLAN ID.
func allocateNetwork(c *types.Cluster, n *types.Network, have []*types.Network) (*store.NetworkAllocation, error) {
	var sub netip.Prefix
	var err error
	if n.Spec.Subnet != "" {
		sub, err = netip.ParsePrefix(n.Spec.Subnet)
		if err != nil {
			return nil, fmt.Errorf("allocator: network %s asks for a bad subnet %q", n.Spec.Name, n.Spec.Subnet)
		}
	} else if sub, err = FreeSubnet(c.AddrPools(), c.SubnetBits(), others(have, n.ID)); err != nil {
		return nil, fmt.Errorf("allocator: network %s: %w", n.Spec.Name, err)
	}
	gw := n.Spec.Gateway
	if gw == "" {
		gw = sub.Addr().Next().String()
	}
	return &store.NetworkAllocation{NetworkID: n.ID, Subnet: sub.String(), Gateway: gw, VNI: FreeVNI(have)}, nil
}

// others is have without network id; asked-for subnets count as taken.
func others(have []*types.Network, id string) []*types.Network {
	var out []*types.Network
	for _, n := range have {
		if n.ID == id {
			continue
		}
		out = append(out, n)
		if n.Spec.Subnet != "" {
			out = append(out, &types.Network{Subnet: n.Spec.Subnet})
		}
	}
	return out
}

// sameNetworks reports whether as has an address on exactly the networks
// of want.
func sameNetworks(as []types.Attachment, want []string) bool {
	if len(as) != len(want) {
		return false
	}
	for _, id := range want {
		if types.AddrOn(as, id) == "" {
			return false
		}
	}
	return true
}

// keep lists want's networks with the addresses as already has on them.
func keep(as []types.Attachment, want []string) []types.Attachment {
	var out []types.Attachment
	for _, id := range want {
		out = append(out, types.Attachment{NetworkID: id, Addr: types.AddrOn(as, id)})
	}
	return out
}

// DefaultNetwork makes the swarm's default network, with the first free
// VXLAN ID and the first free subnet of the address pools that is a /16
// (every service without --network is on it) but at most half its pool,
// so that networks made by users fit beside it (the whole pool if even
// half is smaller than the pools' subnet size).
func DefaultNetwork(c *types.Cluster, have []*types.Network, id string) (*types.Network, error) {
	var sub netip.Prefix
	err := fmt.Errorf("allocator: no address pool")
	for _, ps := range c.AddrPools() {
		pool, perr := netip.ParsePrefix(ps)
		if perr != nil {
			return nil, fmt.Errorf("allocator: bad address pool %q", ps)
		}
		bits := max(types.DefaultNetworkMaxBits, pool.Bits()+1)
		if bits > c.SubnetBits() {
			bits = max(c.SubnetBits(), pool.Bits())
		}
		if sub, err = FreeSubnet([]string{ps}, bits, others(have, "")); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return &types.Network{ID: id, Spec: types.NetworkSpec{Name: types.DefaultNetworkName, Driver: "overlay", Ingress: true},
		Subnet: sub.String(), Gateway: sub.Addr().Next().String(), VNI: FreeVNI(have)}, nil
}

// FreeSubnet returns the first prefix of length bits (or the pool's own
// length, if longer) in pools that overlaps no network of have (its
// subnet, or the one it asks for).
func FreeSubnet(pools []string, bits int, have []*types.Network) (netip.Prefix, error) {
	var subs []string
	for _, n := range have {
		subs = append(subs, n.Subnet, n.Spec.Subnet)
	}
	got, err := ipam.FreeSubnets(pools, bits, ipam.Taken(subs...), 1)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("allocator: %w", err)
	}
	return got[0], nil
}

// FreeVNI returns the lowest VXLAN ID from types.FirstVNI that no network
// of have uses.
func FreeVNI(have []*types.Network) uint32 {
	used := make([]uint32, 0, len(have))
	for _, n := range have {
		used = append(used, n.VNI)
	}
	sort.Slice(used, func(i, j int) bool { return used[i] < used[j] })
	v := uint32(types.FirstVNI)
	for _, u := range used {
		if u == v {
			v++
		} else if u > v {
			break
		}
	}
	return v
}

// pool is one network's addresses while a plan is made.
type pool struct {
	n      *types.Network
	sub    netip.Prefix
	used   map[netip.Addr]bool
	cursor netip.Addr
}

func newPool(n *types.Network, from netip.Addr) (*pool, error) {
	sub, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return nil, fmt.Errorf("allocator: network %s has a bad subnet %q", n.Spec.Name, n.Subnet)
	}
	if !from.IsValid() || !sub.Contains(from) {
		from = sub.Addr()
	}
	return &pool{n: n, sub: sub, used: map[netip.Addr]bool{}, cursor: from}, nil
}

func (p *pool) take(addr string) {
	if p == nil {
		return
	}
	if a, err := netip.ParseAddr(addr); err == nil {
		p.used[a] = true
	}
}

// next gives the first free usable address from the cursor on, wrapping
// round to the bottom of the subnet once.
func (p *pool) next() (string, error) {
	for pass := 0; pass < 2; pass++ {
		for a := p.cursor; p.sub.Contains(a); a = a.Next() {
			if !p.used[a] && store.Usable(p.n, a.String()) {
				p.used[a] = true
				p.cursor = a.Next()
				return a.String(), nil
			}
		}
		p.cursor = p.sub.Addr()
	}
	return "", fmt.Errorf("allocator: no address left on network %s (%s)", p.n.Spec.Name, p.n.Subnet)
}
