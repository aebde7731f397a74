// Package netplane keeps a node's share of the swarm's default network
// matching committed state: the engine's bridge network with the
// network's subnet, this node's own address on it (the source of the
// routing mesh's forwarded connections), and the overlay's static
// entries for every endpoint on another host (tasks and nodes), so that a
// task's address reaches it from every host. The kernel work is done by
// package overlay; the engine's by the executor.
package netplane

import (
	"net"
	"sort"

	"sw/cluster/store"
	"sw/cluster/types"
)

// Peer is an endpoint on another host of the overlay.
type Peer struct {
	IP   string
	MAC  string
	VTEP string
}

// State is what this node should have on network n.
type State struct {
	// Addr is this node's own address on the network ("" until given).
	Addr string
	// Hold are the addresses the bridge answers for, sorted: the node
	// addresses of this engine's nodes and every virtual IP of the
	// network (task containers reach a VIP, which is in their subnet,
	// through the host, where it is translated).
	Hold []string
	// BridgeMAC is the MAC the bridge should have: the one every other
	// host expects for this engine's node addresses.
	BridgeMAC string
	// Local is this node's VTEP address.
	Local string
	// Peers are the endpoints on other engines, sorted by IP.
	Peers []Peer
}

// Want computes State for node self on network n. Nodes that share an
// engine share its bridge (tests run several nodes on one engine): no
// overlay entries between them, and the bridge's MAC is that of the
// engine's node with the lowest ID. It is a pure function.
func Want(view *store.ReadTx, n *types.Network, self string, macFor func(string) string) State {
	nodes := view.Nodes()
	byID := make(map[string]*types.Node, len(nodes))
	owner := map[string]*types.Node{} // engine -> node whose address names its bridge's MAC
	for _, nd := range nodes {
		byID[nd.ID] = nd
		if types.AddrOn(nd.Attachments, n.ID) == "" {
			continue
		}
		key := engineKey(nd)
		if o := owner[key]; o == nil || nd.ID < o.ID {
			owner[key] = nd
		}
	}
	var st State
	me := byID[self]
	if me == nil {
		return st
	}
	st.Addr = types.AddrOn(me.Attachments, n.ID)
	st.Local = me.VTEP()
	if o := owner[engineKey(me)]; o != nil {
		st.BridgeMAC = macFor(types.AddrOn(o.Attachments, n.ID))
	}
	remote := func(nd *types.Node) bool {
		return nd != nil && engineKey(nd) != engineKey(me) && nd.VTEP() != "" && nd.State != types.NodeDown
	}
	for _, nd := range nodes {
		addr := types.AddrOn(nd.Attachments, n.ID)
		if addr == "" || !remote(nd) {
			continue
		}
		o := owner[engineKey(nd)]
		st.Peers = append(st.Peers, Peer{IP: addr, MAC: macFor(types.AddrOn(o.Attachments, n.ID)), VTEP: nd.VTEP()})
	}
	for _, nd := range nodes {
		if addr := types.AddrOn(nd.Attachments, n.ID); addr != "" && engineKey(nd) == engineKey(me) {
			st.Hold = append(st.Hold, addr)
		}
	}
	for _, s := range view.Services() {
		if vip := types.AddrOn(s.VirtualIPs, n.ID); vip != "" {
			st.Hold = append(st.Hold, vip)
		}
	}
	sort.Slice(st.Hold, func(i, j int) bool { return ipLess(st.Hold[i], st.Hold[j]) })
	for _, t := range view.TasksOnNetwork(n.ID) {
		addr := types.AddrOn(t.Networks, n.ID)
		if addr == "" || t.NodeID == "" {
			continue
		}
		if nd := byID[t.NodeID]; remote(nd) {
			st.Peers = append(st.Peers, Peer{IP: addr, MAC: macFor(addr), VTEP: nd.VTEP()})
		}
	}
	sort.Slice(st.Peers, func(i, j int) bool {
		return ipLess(st.Peers[i].IP, st.Peers[j].IP)
	})
	return st
}

// engineKey tells engines apart: the engine's ID, else the node itself.
func engineKey(n *types.Node) string {
	if n.EngineID != "" {
		return "engine:" + n.EngineID
	}
	return "node:" + n.ID
}

func ipLess(a, b string) bool {
	x, y := net.ParseIP(a).To4(), net.ParseIP(b).To4()
	if x == nil || y == nil {
		return a < b
	}
	for i := range x {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}
