package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpTries is how many times a netlink dump that the kernel reports as
// interrupted (the table changed while it was read) is tried.
const dumpTries = 5

// Ensure creates the network's VXLAN device, or fixes it, so that it has
// the network's VNI, local address and UDP port, no learning, ARP proxy,
// no default destination, the bridge as its master, the MTU, and is up.
// It is idempotent. An existing device of the same name whose VNI, local
// address, port or flags differ (or that is not a VXLAN device) is
// deleted and made anew, which drops its entries: call SyncPeers after
// Ensure. A device that was taken down has lost its neighbour entries
// too (the kernel flushes them, permanent ones included, while it keeps
// the forwarding entries), another reason to sync after.
func Ensure(n Network) error {
	c, err := n.check()
	if err != nil {
		return err
	}
	bridge, err := netlink.LinkByName(c.bridge)
	if err != nil {
		return fmt.Errorf("overlay: bridge %s: %w", c.bridge, err)
	}
	if bridge.Type() != "bridge" {
		return fmt.Errorf("overlay: %s is a %s device, not a bridge", c.bridge, bridge.Type())
	}
	under, err := underlay(c.local)
	if err != nil {
		return err
	}
	mtu := c.mtu
	if mtu == 0 {
		mtu = under.Attrs().MTU - Overhead
	}

	name := DeviceName(c.vni)
	link, err := netlink.LinkByName(name)
	switch {
	case isNotFound(err):
		link = nil
	case err != nil:
		return fmt.Errorf("overlay: %s: %w", name, err)
	case !matches(link, c):
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("overlay: delete mismatched %s: %w", name, err)
		}
		link = nil
	}
	if link == nil {
		dev := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu},
			VxlanId:   int(c.vni),
			SrcAddr:   c.local,
			Port:      c.port,
			Learning:  false,
			Proxy:     true,
		}
		if err := netlink.LinkAdd(dev); err != nil {
			return fmt.Errorf("overlay: create %s (VNI %d, port %d): %w", name, c.vni, c.port, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("overlay: %s after creating it: %w", name, err)
		}
	}

	a := link.Attrs()
	if a.MTU != mtu {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("overlay: %s: set MTU %d: %w", name, mtu, err)
		}
	}
	if a.MasterIndex != bridge.Attrs().Index {
		if err := netlink.LinkSetMaster(link, bridge); err != nil {
			return fmt.Errorf("overlay: %s: join bridge %s: %w", name, c.bridge, err)
		}
	}
	// The bridge must not learn MACs on the VXLAN port: a MAC seen there
	// once (a remote task whose address a local one has since been
	// given: addresses, and so MACs, are reused) would keep drawing the
	// local task's frames onto the overlay. Frames for MACs the bridge
	// does not know go to every port; the device's own static entries
	// decide where they go from there.
	if err := netlink.LinkSetLearning(link, false); err != nil {
		return fmt.Errorf("overlay: %s: turn bridge learning off: %w", name, err)
	}
	if err := forgetLearned(link.Attrs().Index); err != nil {
		return fmt.Errorf("overlay: %s: %w", name, err)
	}
	if a.Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("overlay: %s: set up: %w", name, err)
		}
	}
	return nil
}

// forgetLearned deletes the entries the bridge learned on the device's
// port (from before learning was off).
func forgetLearned(index int) error {
	entries, err := list(index, unix.AF_BRIDGE)
	if err != nil {
		return err
	}
	for i := range entries {
		e := entries[i]
		if e.Flags&netlink.NTF_MASTER == 0 || e.State&netlink.NUD_PERMANENT != 0 {
			continue
		}
		if err := netlink.NeighDel(&e); err != nil && !isNotFound(err) {
			return fmt.Errorf("forget learned %s: %w", e.HardwareAddr, err)
		}
	}
	return nil
}

// SyncPeers makes the static entries of the network's VXLAN device
// exactly those for peers: for each, a neighbour entry (the peer's IP has
// its MAC, which the device's ARP proxy answers with) and a forwarding
// entry (frames for the MAC go to the peer's VTEP). Missing entries are
// added, changed ones replaced, and unwanted ones deleted; only permanent
// entries on the device are looked at, as this package makes. It reads
// the device's two tables and writes nothing when they are already
// right. The device must exist (Ensure). Peers that disagree with each
// other, or that are on this host's VTEP, are an error and change
// nothing. A failed write does not stop the others; all failures are
// returned together.
func SyncPeers(vni uint32, peers []Peer) error {
	name := DeviceName(vni)
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("overlay: %s: %w", name, err)
	}
	vx, ok := link.(*netlink.Vxlan)
	if !ok {
		return fmt.Errorf("overlay: %s is a %s device, not vxlan", name, link.Type())
	}
	self, _ := addr4(vx.SrcAddr)
	wantARP, wantFDB, err := want(peers, self)
	if err != nil {
		return err
	}
	haveARP, haveFDB, err := present(link.Attrs().Index)
	if err != nil {
		return fmt.Errorf("overlay: %s: %w", name, err)
	}
	return apply(link.Attrs().Index, name, diff(wantARP, wantFDB, haveARP, haveFDB))
}

// Remove deletes the VXLAN device of a VNI, and with it its entries. A
// device that is not there is not an error.
func Remove(vni uint32) error {
	name := DeviceName(vni)
	link, err := netlink.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("overlay: %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("overlay: delete %s: %w", name, err)
	}
	return nil
}

// RemoveFrom deletes this package's VXLAN devices on bridge (a swarm
// left: its networks go, whatever their VNIs). A missing bridge is fine.
func RemoveFrom(bridge string) error {
	br, err := netlink.LinkByName(bridge)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("overlay: bridge %s: %w", bridge, err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("overlay: list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		a := l.Attrs()
		if l.Type() != "vxlan" || a.MasterIndex != br.Attrs().Index || !strings.HasPrefix(a.Name, "swvx-") {
			continue
		}
		if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("overlay: delete %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}

// underlay is the interface that holds the local address.
func underlay(local net.IP) (netlink.Link, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("overlay: list addresses: %w", err)
	}
	for _, a := range addrs {
		if a.IP.Equal(local) {
			link, err := netlink.LinkByIndex(a.LinkIndex)
			if err != nil {
				return nil, fmt.Errorf("overlay: interface of %s: %w", local, err)
			}
			return link, nil
		}
	}
	return nil, fmt.Errorf("overlay: local address %s is not assigned to any interface", local)
}

// matches reports whether an existing device is the VXLAN device c
// describes in everything that can only be set when it is made.
func matches(link netlink.Link, c config) bool {
	v, ok := link.(*netlink.Vxlan)
	return ok &&
		v.VxlanId == int(c.vni) &&
		v.SrcAddr.Equal(c.local) &&
		v.Port == c.port &&
		v.Group == nil &&
		v.VtepDevIndex == 0 &&
		!v.Learning && v.Proxy &&
		!v.L2miss && !v.L3miss &&
		!v.FlowBased
}

// present reads the entries of the device this package owns: permanent
// IPv4 neighbour entries, and permanent forwarding entries of the device
// itself (NTF_SELF; the bridge's own entries for the port, NTF_MASTER,
// are not ours).
func present(index int) ([]arpEntry, []fdbEntry, error) {
	neighs, err := list(index, netlink.FAMILY_V4)
	if err != nil {
		return nil, nil, fmt.Errorf("list neighbours: %w", err)
	}
	var arps []arpEntry
	for _, n := range neighs {
		ip, ok := addr4(n.IP)
		if !ok || n.State&netlink.NUD_PERMANENT == 0 || len(n.HardwareAddr) != 6 {
			continue
		}
		arps = append(arps, arpEntry{IP: ip, MAC: mac(n.HardwareAddr)})
	}
	fdbs, err := list(index, unix.AF_BRIDGE)
	if err != nil {
		return nil, nil, fmt.Errorf("list forwarding entries: %w", err)
	}
	var fwd []fdbEntry
	for _, n := range fdbs {
		vtep, ok := addr4(n.IP)
		if !ok || n.Flags&netlink.NTF_SELF == 0 || n.State&netlink.NUD_PERMANENT == 0 || len(n.HardwareAddr) != 6 {
			continue
		}
		fwd = append(fwd, fdbEntry{MAC: mac(n.HardwareAddr), VTEP: vtep})
	}
	return arps, fwd, nil
}

// list dumps a neighbour table of the device, again if the kernel says
// the dump was interrupted.
func list(index, family int) ([]netlink.Neigh, error) {
	for try := 1; ; try++ {
		ns, err := netlink.NeighList(index, family)
		if err == nil || !errors.Is(err, netlink.ErrDumpInterrupted) || try == dumpTries {
			return ns, err
		}
	}
}

// apply carries out a plan on the device, in the plan's order. Deleting
// an entry that is already gone is not an error.
func apply(index int, name string, p plan) error {
	var errs []error
	for _, e := range p.delARP {
		err := netlink.NeighDel(arpNeigh(index, e))
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("overlay: %s: delete neighbour %s: %w", name, e.IP, err))
		}
	}
	for _, e := range p.delFDB {
		err := netlink.NeighDel(fdbNeigh(index, e))
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("overlay: %s: delete forwarding entry %s → %s: %w", name, e.MAC, e.VTEP, err))
		}
	}
	for _, e := range p.setFDB {
		if err := netlink.NeighSet(fdbNeigh(index, e)); err != nil {
			errs = append(errs, fmt.Errorf("overlay: %s: set forwarding entry %s → %s: %w", name, e.MAC, e.VTEP, err))
		}
	}
	for _, e := range p.setARP {
		if err := netlink.NeighSet(arpNeigh(index, e)); err != nil {
			errs = append(errs, fmt.Errorf("overlay: %s: set neighbour %s → %s: %w", name, e.IP, e.MAC, err))
		}
	}
	return errors.Join(errs...)
}

// arpNeigh is the netlink form of a neighbour entry.
func arpNeigh(index int, e arpEntry) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       netlink.FAMILY_V4,
		State:        netlink.NUD_PERMANENT,
		IP:           ipOf(e.IP),
		HardwareAddr: e.MAC.hw(),
	}
}

// fdbNeigh is the netlink form of a forwarding entry: of the device
// itself (NTF_SELF). Without that flag the kernel gives an AF_BRIDGE
// entry for a bridge port to the bridge (a static entry in the bridge's
// own table, whose destination the VXLAN device never sees).
func fdbNeigh(index int, e fdbEntry) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       unix.AF_BRIDGE,
		Flags:        netlink.NTF_SELF,
		State:        netlink.NUD_PERMANENT,
		IP:           ipOf(e.VTEP),
		HardwareAddr: e.MAC.hw(),
	}
}

func ipOf(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}
