package store

import (
	"fmt"
	"net/netip"
	"strings"

	"sw/cluster/ipam"
	"sw/cluster/types"
)

// NetworkAllocation is the leader's allocator's write: the addresses of a
// task, a service (its virtual IPs) or a node on their networks. Exactly
// one of TaskID, ServiceID and NodeID is set. It is refused (ErrAddrInUse)
// if an address is outside its network, reserved, or held by another
// object, and dropped for an object that is gone or, for a task, no
// longer holds addresses.
type NetworkAllocation struct {
	// NetworkID, with Subnet, Gateway and VNI, allocates a network.
	NetworkID   string             `json:"NetworkID,omitempty"`
	Subnet      string             `json:"Subnet,omitempty"`
	Gateway     string             `json:"Gateway,omitempty"`
	VNI         uint32             `json:"VNI,omitempty"`
	TaskID      string             `json:"TaskID,omitempty"`
	ServiceID   string             `json:"ServiceID,omitempty"`
	NodeID      string             `json:"NodeID,omitempty"`
	Attachments []types.Attachment `json:"Attachments"`
}

// HoldsAddrs reports whether a task's addresses are still taken: until it
// ends, or, never placed, once it is no longer wanted.
func HoldsAddrs(t *types.Task) bool {
	if t.Status.State >= types.TaskComplete {
		return false
	}
	return t.NodeID != "" || t.DesiredState <= types.TaskRunning
}

func (w *writer) createNetwork(n *types.Network) error {
	if raw, _ := w.tx.First(tableNetworks, indexID, n.ID); raw != nil {
		if raw.(*types.Network).Spec.Name == n.Spec.Name {
			return nil // this very request again (see createService)
		}
		return fmt.Errorf("%w: network %s", ErrExists, n.ID)
	}
	if old, _ := w.tx.First(tableNetworks, indexName, n.Spec.Name); old != nil {
		return Errorf(ErrNameInUse, "network with name %s already exists", n.Spec.Name)
	}
	v := *n
	if n.Subnet == "" {
		// Made by a user: the allocator gives the addresses, though a
		// subnet asked for must be free now.
		v.Gateway, v.VNI = "", 0
		if n.Spec.Subnet != "" {
			if err := w.checkSubnet(n.ID, n.Spec.Name, n.Spec.Subnet, n.Spec.Gateway, 0); err != nil {
				return err
			}
		} else if err := w.checkPoolRoom(n.Spec.Name); err != nil {
			return err
		}
	} else if err := w.checkSubnet(n.ID, n.Spec.Name, n.Subnet, n.Gateway, n.VNI); err != nil {
		return err
	}
	w.stamp(&v.Meta, true)
	return w.insert(tableNetworks, &v)
}

// checkPoolRoom refuses a network that would get its subnet from the
// swarm's address pools when they have no subnet left for it, once every
// network already waiting for one has had its own: the allocator would
// never give it one.
func (w *writer) checkPoolRoom(name string) error {
	var c *types.Cluster
	if raw, _ := w.tx.First(tableCluster, indexID); raw != nil {
		c = raw.(*types.Cluster)
	}
	var subs []string
	waiting := 0
	for _, o := range w.networks() {
		subs = append(subs, o.Subnet, o.Spec.Subnet)
		if o.Subnet == "" && o.Spec.Subnet == "" {
			waiting++
		}
	}
	if _, err := ipam.FreeSubnets(c.AddrPools(), c.SubnetBits(), ipam.Taken(subs...), waiting+1); err != nil {
		return Errorf(ErrAddrInUse, "network %s: could not find an available, non-overlapping address pool among %s "+
			"for a /%d subnet: give one with --subnet, or remove a network", name, strings.Join(c.AddrPools(), ", "), c.SubnetBits())
	}
	return nil
}

// checkSubnet refuses a subnet that is malformed, has its gateway outside
// it, or overlaps another network's (given or asked for), and a VXLAN ID
// another network has.
func (w *writer) checkSubnet(id, name, subnet, gateway string, vni uint32) error {
	sub, err := netip.ParsePrefix(subnet)
	if err != nil || !sub.Addr().Is4() || sub.Masked() != sub {
		return Errorf(ErrBadCommand, "network %s: bad subnet %q", name, subnet)
	}
	if gw, err := netip.ParseAddr(gateway); gateway != "" && (err != nil || !sub.Contains(gw)) {
		return Errorf(ErrBadCommand, "network %s: gateway %q is not in %s", name, gateway, sub)
	}
	for _, o := range w.networks() {
		if o.ID == id {
			continue
		}
		for _, os := range []string{o.Subnet, o.Spec.Subnet} {
			if op, err := netip.ParsePrefix(os); err == nil && op.Overlaps(sub) {
				return Errorf(ErrAddrInUse, "subnet %s overlaps network %s (%s)", sub, o.Spec.Name, os)
			}
		}
		if vni != 0 && o.VNI == vni {
			return Errorf(ErrAddrInUse, "VXLAN ID %d is network %s's", vni, o.Spec.Name)
		}
	}
	return nil
}

// deleteNetwork removes a network no service uses; the default network
// stays.
func (w *writer) deleteNetwork(id string) error {
	raw, _ := w.tx.First(tableNetworks, indexID, id)
	if raw == nil {
		return nil
	}
	n := raw.(*types.Network)
	if n.Spec.Name == types.DefaultNetworkName {
		return Errorf(ErrInUse, "network %s is the swarm's default network and cannot be removed", n.Spec.Name)
	}
	var users []string
	it, err := w.tx.Get(tableServices, indexID)
	if err != nil {
		return err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		s := raw.(*types.Service)
		for _, a := range s.Spec.Networks {
			if a.Target == id {
				users = append(users, s.Spec.Name)
				break
			}
		}
	}
	if len(users) > 0 {
		return Errorf(ErrInUse, "network %s is in use by service(s) %s", n.Spec.Name, strings.Join(users, ", "))
	}
	return w.delete(tableNetworks, id)
}

func (w *writer) networks() []*types.Network {
	var out []*types.Network
	it, err := w.tx.Get(tableNetworks, indexID)
	if err != nil {
		return nil
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*types.Network))
	}
	return out
}

func (w *writer) allocate(a *NetworkAllocation) error {
	switch {
	case a.NetworkID != "":
		raw, _ := w.tx.First(tableNetworks, indexID, a.NetworkID)
		if raw == nil || raw.(*types.Network).Allocated() {
			return nil
		}
		v := *raw.(*types.Network)
		if err := w.checkSubnet(v.ID, v.Spec.Name, a.Subnet, a.Gateway, a.VNI); err != nil {
			return err
		}
		if a.Gateway == "" || a.VNI == 0 {
			return Errorf(ErrBadCommand, "network %s: an allocation needs a gateway and a VXLAN ID", v.Spec.Name)
		}
		v.Subnet, v.Gateway, v.VNI = a.Subnet, a.Gateway, a.VNI
		w.stamp(&v.Meta, false)
		return w.insert(tableNetworks, &v)
	case a.TaskID != "":
		t := w.task(a.TaskID)
		if t == nil || !HoldsAddrs(t) {
			return nil
		}
		if err := w.checkAttachments(a.Attachments, "task", a.TaskID); err != nil {
			return err
		}
		t.Networks = a.Attachments
		w.stamp(&t.Meta, false)
		return w.putTask(t)
	case a.ServiceID != "":
		raw, _ := w.tx.First(tableServices, indexID, a.ServiceID)
		if raw == nil {
			return nil
		}
		if err := w.checkAttachments(a.Attachments, "service", a.ServiceID); err != nil {
			return err
		}
		// Not stamped, as ServiceProblem: Version follows the user's spec.
		v := *raw.(*types.Service)
		v.VirtualIPs = a.Attachments
		return w.insert(tableServices, &v)
	case a.NodeID != "":
		n := w.node(a.NodeID)
		if n == nil {
			return nil
		}
		if err := w.checkAttachments(a.Attachments, "node", a.NodeID); err != nil {
			return err
		}
		n.Attachments = a.Attachments
		w.stamp(&n.Meta, false)
		return w.insert(tableNodes, n)
	}
	return Errorf(ErrBadCommand, "an allocation names no task, service or node")
}

// checkAttachments refuses addresses outside their network, reserved
// (the network's own, its broadcast, the gateway), given twice, or held
// by another object than (kind, id).
func (w *writer) checkAttachments(as []types.Attachment, kind, id string) error {
	seen := map[string]bool{}
	for _, a := range as {
		raw, _ := w.tx.First(tableNetworks, indexID, a.NetworkID)
		if raw == nil {
			return Errorf(ErrNotFound, "network %s not found", a.NetworkID)
		}
		n := raw.(*types.Network)
		if a.Addr == "" {
			continue
		}
		if !Usable(n, a.Addr) {
			return Errorf(ErrAddrInUse, "address %s is not usable on network %s (%s)", a.Addr, n.Spec.Name, n.Subnet)
		}
		key := a.NetworkID + "/" + a.Addr
		if seen[key] {
			return Errorf(ErrAddrInUse, "address %s given twice on network %s", a.Addr, n.Spec.Name)
		}
		seen[key] = true
		if holder := w.addrHolder(a.NetworkID, a.Addr); holder != "" && holder != kind+" "+id {
			return Errorf(ErrAddrInUse, "address %s on network %s is held by %s", a.Addr, n.Spec.Name, holder)
		}
	}
	return nil
}

// Usable reports whether addr may be given out on network n: inside its
// subnet, and not its first address, its broadcast or its gateway.
func Usable(n *types.Network, addr string) bool {
	sub, err := netip.ParsePrefix(n.Subnet)
	ip, err2 := netip.ParseAddr(addr)
	if err != nil || err2 != nil || !sub.Contains(ip) || ip == sub.Addr() || addr == n.Gateway {
		return false
	}
	return ip != Broadcast(sub)
}

// Broadcast is the last address of an IPv4 prefix.
func Broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// addrHolder names what holds an address on a network ("task ID",
// "service ID", "node ID"), or "".
func (w *writer) addrHolder(networkID, addr string) string {
	if raw, _ := w.tx.First(tableTasks, indexAddr, networkID+"/"+addr); raw != nil {
		return "task " + raw.(*types.Task).ID
	}
	it, err := w.tx.Get(tableServices, indexID)
	if err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			s := raw.(*types.Service)
			if types.AddrOn(s.VirtualIPs, networkID) == addr {
				return "service " + s.ID
			}
		}
	}
	if it, err := w.tx.Get(tableNodes, indexID); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			n := raw.(*types.Node)
			if types.AddrOn(n.Attachments, networkID) == addr {
				return "node " + n.ID
			}
		}
	}
	return ""
}

// taskAddrIndex indexes the addresses tasks hold ("networkID/addr"), so
// that a taken address is found without a scan.
type taskAddrIndex struct{}

func (taskAddrIndex) FromObject(obj any) (bool, [][]byte, error) {
	t, ok := obj.(*types.Task)
	if !ok || !HoldsAddrs(t) {
		return false, nil, nil
	}
	var keys [][]byte
	for _, a := range t.Networks {
		if a.Addr != "" {
			keys = append(keys, []byte(a.NetworkID+"/"+a.Addr+"\x00"))
		}
	}
	return len(keys) > 0, keys, nil
}

// PrefixFromArgs makes the index usable with "_prefix" queries: every
// address on a network ("NETWORK-ID/").
func (taskAddrIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	s, err := oneString(args)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func (taskAddrIndex) FromArgs(args ...any) ([]byte, error) {
	s, err := oneString(args)
	if err != nil {
		return nil, err
	}
	return []byte(s + "\x00"), nil
}
