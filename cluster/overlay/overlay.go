// Package overlay is the per-host half of sw's overlay networks: it joins
// a kernel VXLAN device to the Linux bridge that carries a swarm network
// on this host, and programs that device, from committed cluster state,
// with one static neighbour entry (IP → MAC) and one static forwarding
// entry (MAC → remote VTEP) per endpoint on another host. Nothing is
// flooded, multicast or learnt: the device has no default destination,
// learning is off, and it answers ARP requests from its neighbour table
// (proxy), so a frame reaches another host only for an endpoint the
// cluster told this host about.
//
// The bridge is not made here: it is the host's Docker engine's bridge
// network for the swarm network's subnet. That network must be created
// with the option com.docker.network.driver.mtu=1450 (for a 1500-byte
// underlay; in general the VXLAN device's MTU), so that the containers'
// eth0 fits the 50 bytes of encapsulation; the bridge itself drops to its
// smallest port's MTU by itself, but a container's interface does not.
//
// Everything works on the calling thread's network namespace: the caller
// runs in the host's namespace. Nothing here blocks beyond a netlink round
// trip to the kernel, so the functions take no context. Calls for one
// network must not run concurrently (the caller reconciles one network at
// a time); calls for different networks may.
package overlay

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
)

// DefaultPort is the VXLAN UDP port used when Network.Port is 0 (IANA's).
const DefaultPort = 4789

// Overhead is what VXLAN over IPv4 adds to a frame: outer IPv4 (20),
// UDP (8), VXLAN (8) and the inner Ethernet header (14) bytes. The
// device's default MTU is the underlay's less this.
const Overhead = 50

// maxVNI is the largest VXLAN network identifier (24 bits).
const maxVNI = 1<<24 - 1

// Network is one overlay network on this host.
type Network struct {
	// VNI is the network's VXLAN ID, 1 to 2^24−1, the same on every
	// host (Docker's overlay driver allocates from 4096 up).
	VNI uint32
	// Bridge is the name of the bridge the VXLAN device joins. It must
	// exist.
	Bridge string
	// Local is this host's data-path (VTEP) IPv4 address: the source of
	// the encapsulated packets. It must be assigned to an interface here.
	Local net.IP
	// Port is the UDP port, the same on every host; 0 means DefaultPort.
	Port int
	// MTU is the VXLAN device's MTU; 0 means the MTU of the interface
	// that holds Local, less Overhead (1450 for 1500). The Docker network
	// behind Bridge must be made with com.docker.network.driver.mtu at
	// most this.
	MTU int
}

// Peer is an endpoint (a container's interface) on another host.
type Peer struct {
	// IP is the endpoint's IPv4 address in the network's subnet.
	IP net.IP
	// MAC is the endpoint's MAC address (MACFor(IP) for a Docker
	// container).
	MAC net.HardwareAddr
	// VTEP is the data-path IPv4 address of the host the endpoint is on.
	VTEP net.IP
}

// DeviceName is the name of the VXLAN device for a VNI: "swvx-" and the
// VNI in decimal, at most 13 characters (the kernel allows 15).
func DeviceName(vni uint32) string {
	return "swvx-" + strconv.FormatUint(uint64(vni), 10)
}

// MACFor is the MAC address Docker gives a container with IPv4 address
// ip: 02:42 followed by the four bytes of the address (locally
// administered, unicast). It is nil if ip is not IPv4.
func MACFor(ip net.IP) net.HardwareAddr {
	v4 := ip.To4()
	if v4 == nil {
		return nil
	}
	return net.HardwareAddr{0x02, 0x42, v4[0], v4[1], v4[2], v4[3]}
}

// config is a checked Network with the defaults filled in.
type config struct {
	vni    uint32
	bridge string
	local  net.IP // 4 bytes
	port   int
	mtu    int // 0: from the underlay
}

// check validates n and fills in its defaults.
func (n Network) check() (config, error) {
	if n.VNI == 0 || n.VNI > maxVNI {
		return config{}, fmt.Errorf("overlay: VNI %d out of range 1-%d", n.VNI, maxVNI)
	}
	if n.Bridge == "" {
		return config{}, errors.New("overlay: no bridge name")
	}
	local := n.Local.To4()
	if local == nil || local.IsUnspecified() || local.IsMulticast() {
		return config{}, fmt.Errorf("overlay: local address %v is not a unicast IPv4 address", n.Local)
	}
	port := n.Port
	if port == 0 {
		port = DefaultPort
	}
	if port < 1 || port > 65535 {
		return config{}, fmt.Errorf("overlay: UDP port %d out of range", n.Port)
	}
	// 68 is the smallest MTU IPv4 allows; the kernel's VXLAN device
	// also rejects less.
	if n.MTU != 0 && n.MTU < 68 {
		return config{}, fmt.Errorf("overlay: MTU %d too small", n.MTU)
	}
	return config{vni: n.VNI, bridge: n.Bridge, local: local, port: port, mtu: n.MTU}, nil
}

// mac is a MAC address usable as a map key.
type mac [6]byte

func (m mac) hw() net.HardwareAddr { return net.HardwareAddr(m[:]) }
func (m mac) String() string       { return m.hw().String() }

// arpEntry is a neighbour entry on the VXLAN device: the endpoint at IP
// has the MAC.
type arpEntry struct {
	IP  netip.Addr
	MAC mac
}

// fdbEntry is a forwarding entry on the VXLAN device: frames for the MAC
// are sent to the host at VTEP.
type fdbEntry struct {
	MAC  mac
	VTEP netip.Addr
}

// plan is what turns the device's entries into the wanted ones. It is
// applied in the order of its fields: stale neighbour entries go first
// (no more ARP answers for an endpoint that is gone), then stale
// forwarding entries; new forwarding entries come before new neighbour
// entries (an endpoint is answered for only once frames to it have
// somewhere to go). The set entries are created or replaced in place.
type plan struct {
	delARP []arpEntry
	delFDB []fdbEntry
	setFDB []fdbEntry
	setARP []arpEntry
}

// empty reports whether the plan changes nothing.
func (p plan) empty() bool {
	return len(p.delARP)+len(p.delFDB)+len(p.setFDB)+len(p.setARP) == 0
}

// want checks peers and turns them into the entries they need, one of
// each per distinct IP and MAC. Two peers that disagree (one IP with two
// MACs, one MAC on two hosts) are an error; repeats are not. self, if
// valid, is this host's VTEP, which no peer may have.
func want(peers []Peer, self netip.Addr) ([]arpEntry, []fdbEntry, error) {
	arp := make(map[netip.Addr]mac, len(peers))
	fdb := make(map[mac]netip.Addr, len(peers))
	for _, p := range peers {
		ip, ok := addr4(p.IP)
		if !ok || ip.IsUnspecified() || ip.IsMulticast() {
			return nil, nil, fmt.Errorf("overlay: peer IP %v is not a unicast IPv4 address", p.IP)
		}
		vtep, ok := addr4(p.VTEP)
		if !ok || vtep.IsUnspecified() || vtep.IsMulticast() {
			return nil, nil, fmt.Errorf("overlay: peer %s: VTEP %v is not a unicast IPv4 address", ip, p.VTEP)
		}
		if self.IsValid() && vtep == self {
			return nil, nil, fmt.Errorf("overlay: peer %s: VTEP %s is this host", ip, vtep)
		}
		if len(p.MAC) != 6 {
			return nil, nil, fmt.Errorf("overlay: peer %s: MAC %q is not 6 bytes", ip, p.MAC)
		}
		var m mac
		copy(m[:], p.MAC)
		if m == (mac{}) || m[0]&1 != 0 {
			return nil, nil, fmt.Errorf("overlay: peer %s: MAC %s is not a unicast address", ip, m)
		}
		if old, ok := arp[ip]; ok && old != m {
			return nil, nil, fmt.Errorf("overlay: peer %s has two MACs, %s and %s", ip, old, m)
		}
		if old, ok := fdb[m]; ok && old != vtep {
			return nil, nil, fmt.Errorf("overlay: MAC %s is on two hosts, %s and %s", m, old, vtep)
		}
		arp[ip] = m
		fdb[m] = vtep
	}
	arps := make([]arpEntry, 0, len(arp))
	for ip, m := range arp {
		arps = append(arps, arpEntry{IP: ip, MAC: m})
	}
	fdbs := make([]fdbEntry, 0, len(fdb))
	for m, v := range fdb {
		fdbs = append(fdbs, fdbEntry{MAC: m, VTEP: v})
	}
	sortARP(arps)
	sortFDB(fdbs)
	return arps, fdbs, nil
}

// diff is the plan from the present entries (those this package owns:
// permanent ones on the device) to the wanted ones, which have one entry
// per IP and per MAC. The device may hold several forwarding entries for
// one MAC (a MAC with several remotes, as `bridge fdb append` makes):
// the unwanted ones are deleted, and a MAC whose one remote changed is
// replaced in place, so its frames are not dropped in between.
func diff(wantARP []arpEntry, wantFDB []fdbEntry, haveARP []arpEntry, haveFDB []fdbEntry) plan {
	var p plan

	have := make(map[netip.Addr]mac, len(haveARP))
	for _, e := range haveARP {
		have[e.IP] = e.MAC
	}
	wanted := make(map[netip.Addr]bool, len(wantARP))
	for _, e := range wantARP {
		wanted[e.IP] = true
		if m, ok := have[e.IP]; !ok || m != e.MAC {
			p.setARP = append(p.setARP, e)
		}
	}
	for _, e := range haveARP {
		if !wanted[e.IP] {
			p.delARP = append(p.delARP, e)
		}
	}

	remotes := make(map[mac][]netip.Addr, len(haveFDB))
	for _, e := range haveFDB {
		remotes[e.MAC] = append(remotes[e.MAC], e.VTEP)
	}
	wantedMAC := make(map[mac]bool, len(wantFDB))
	for _, e := range wantFDB {
		wantedMAC[e.MAC] = true
		rs := remotes[e.MAC]
		switch {
		case slices.Contains(rs, e.VTEP):
			for _, r := range rs {
				if r != e.VTEP {
					p.delFDB = append(p.delFDB, fdbEntry{MAC: e.MAC, VTEP: r})
				}
			}
		case len(rs) <= 1:
			p.setFDB = append(p.setFDB, e)
		default:
			for _, r := range rs {
				p.delFDB = append(p.delFDB, fdbEntry{MAC: e.MAC, VTEP: r})
			}
			p.setFDB = append(p.setFDB, e)
		}
	}
	for _, e := range haveFDB {
		if !wantedMAC[e.MAC] {
			p.delFDB = append(p.delFDB, e)
		}
	}

	sortARP(p.delARP)
	sortARP(p.setARP)
	sortFDB(p.delFDB)
	sortFDB(p.setFDB)
	return p
}

// addr4 is ip as a 4-byte netip.Addr, if it is IPv4.
func addr4(ip net.IP) (netip.Addr, bool) {
	v4 := ip.To4()
	if v4 == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v4)), true
}

func sortARP(es []arpEntry) {
	slices.SortFunc(es, func(a, b arpEntry) int {
		return cmp.Or(a.IP.Compare(b.IP), bytes.Compare(a.MAC[:], b.MAC[:]))
	})
}

func sortFDB(es []fdbEntry) {
	slices.SortFunc(es, func(a, b fdbEntry) int {
		return cmp.Or(bytes.Compare(a.MAC[:], b.MAC[:]), a.VTEP.Compare(b.VTEP))
	})
}
