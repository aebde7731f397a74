//go:build linux

package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The simulated hosts. Everything is made inside network namespaces of
// the test's own, which are unnamed, so they and their links go when the
// test closes them (or when its process ends); nothing in the test's own
// namespace is touched. The underlay is 198.18.1.0/24 (RFC 2544's
// benchmarking range), the overlay 10.77.0.0/24.
const (
	testVNI    = 4242
	testBridge = "swtestbr0"
	testPort   = 7777
)

// needRoot fails the test, loudly, where it cannot make namespaces.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces)")
	}
}

// onThread runs fn on a locked OS thread and then, if fn has left the
// thread in another network namespace, puts it back in the one it was in
// and unlocks it. A thread that cannot be put back stays locked, so Go
// ends it with its goroutine.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("this namespace: %w", err)
			return
		}
		defer orig.Close()
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("back to the original namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// inNS runs fn in network namespace ns (on a locked thread).
func inNS(ns netns.NsHandle, fn func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter namespace: %w", err)
		}
		return fn()
	})
}

// newNS makes a network namespace, destroyed at cleanup (by closing its
// last reference), with its loopback up, and a netlink handle into it.
func newNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	var ns netns.NsHandle
	err := onThread(func() error {
		var err error
		ns, err = netns.New() // moves the thread into it
		return err
	})
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatalf("lo: %v", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatalf("lo up: %v", err)
	}
	return ns, h
}

// host is a simulated host: its namespace with the underlay interface
// ul0 and the bridge, and one container namespace whose eth0 is a veth
// on the bridge.
type host struct {
	ns, ctr     netns.NsHandle
	h, hc       *netlink.Handle
	underlay    net.IP
	containerIP net.IP
}

// network is the host's overlay network.
func (x *host) network() Network {
	return Network{VNI: testVNI, Bridge: testBridge, Local: x.underlay}
}

// peer is the host's container as a peer for the other host.
func (x *host) peer() Peer {
	return Peer{IP: x.containerIP, MAC: MACFor(x.containerIP), VTEP: x.underlay}
}

// in runs fn in the host's namespace, failing the test on error.
func (x *host) in(t *testing.T, what string, fn func() error) {
	t.Helper()
	if err := inNS(x.ns, fn); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// twoHosts builds hosts A and B joined by a veth pair as the underlay.
func twoHosts(t *testing.T) (a, b *host) {
	t.Helper()
	a = &host{underlay: net.IPv4(198, 18, 1, 1).To4(), containerIP: net.IPv4(10, 77, 0, 2).To4()}
	b = &host{underlay: net.IPv4(198, 18, 1, 2).To4(), containerIP: net.IPv4(10, 77, 0, 3).To4()}
	a.ns, a.h = newNS(t)
	b.ns, b.h = newNS(t)
	must(t, "underlay veth", a.h.LinkAdd(&netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: "ul0"},
		PeerName:      "ul0",
		PeerNamespace: netlink.NsFd(int(b.ns)),
	}))
	for _, x := range []*host{a, b} {
		ul := link(t, x.h, "ul0")
		must(t, "underlay address", x.h.AddrAdd(ul, &netlink.Addr{IPNet: &net.IPNet{IP: x.underlay, Mask: net.CIDRMask(24, 32)}}))
		must(t, "underlay up", x.h.LinkSetUp(ul))
		addBridge(t, x.h)
		x.ctr, x.hc = newNS(t)
		br := link(t, x.h, testBridge)
		must(t, "container veth", x.h.LinkAdd(&netlink.Veth{
			LinkAttrs:        netlink.LinkAttrs{Name: "vc0", MTU: 1450},
			PeerName:         "eth0",
			PeerNamespace:    netlink.NsFd(int(x.ctr)),
			PeerHardwareAddr: MACFor(x.containerIP),
			PeerMTU:          1450,
		}))
		vc := link(t, x.h, "vc0")
		must(t, "container veth on the bridge", x.h.LinkSetMaster(vc, br))
		must(t, "container veth up", x.h.LinkSetUp(vc))
		eth := link(t, x.hc, "eth0")
		must(t, "container address", x.hc.AddrAdd(eth, &netlink.Addr{IPNet: &net.IPNet{IP: x.containerIP, Mask: net.CIDRMask(24, 32)}}))
		must(t, "container eth0 up", x.hc.LinkSetUp(eth))
	}
	return a, b
}

// addBridge makes the test bridge in a host namespace, up.
func addBridge(t *testing.T, h *netlink.Handle) {
	t.Helper()
	must(t, "bridge", h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: testBridge}}))
	must(t, "bridge up", h.LinkSetUp(link(t, h, testBridge)))
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func link(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s: %v", name, err)
	}
	return l
}

// vxlan reads the host's VXLAN device.
func vxlan(t *testing.T, h *netlink.Handle) *netlink.Vxlan {
	t.Helper()
	l := link(t, h, DeviceName(testVNI))
	v, ok := l.(*netlink.Vxlan)
	if !ok {
		t.Fatalf("%s is a %s device", DeviceName(testVNI), l.Type())
	}
	return v
}

// echo serves, in the container namespace ctr, a TCP echo server on
// addr, stopped at cleanup.
func echo(t *testing.T, ctr netns.NsHandle, addr string) {
	t.Helper()
	var ln net.Listener
	err := inNS(ctr, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr) // the socket stays in ctr
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.Copy(c, c)
			}()
		}
	}()
}

// talk connects from the container namespace ctr to the echo server at
// addr, sends a line and reads it back, all within timeout.
func talk(ctr netns.NsHandle, addr string, timeout time.Duration) error {
	return inNS(ctr, func() error {
		c, err := net.DialTimeout("tcp4", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		msg := []byte("hello over vxlan\n")
		if _, err := c.Write(msg); err != nil {
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo %q, want %q", got, msg)
		}
		return nil
	})
}

// entries reads the host's device's entries as SyncPeers sees them.
func entries(t *testing.T, x *host) ([]arpEntry, []fdbEntry) {
	t.Helper()
	var arps []arpEntry
	var fdbs []fdbEntry
	index := vxlan(t, x.h).Index
	x.in(t, "read entries", func() error {
		var err error
		arps, fdbs, err = present(index)
		return err
	})
	return arps, fdbs
}

// checkEntries checks the host's device holds exactly the entries for
// peers, and that syncing them again would change nothing.
func checkEntries(t *testing.T, x *host, peers ...Peer) {
	t.Helper()
	arps, fdbs := entries(t, x)
	self, _ := addr4(x.underlay)
	wantARP, wantFDB, err := want(peers, self)
	if err != nil {
		t.Fatal(err)
	}
	if p := diff(wantARP, wantFDB, arps, fdbs); !p.empty() {
		t.Fatalf("device entries %v %v, want %v %v (plan %v)", arps, fdbs, wantARP, wantFDB, p)
	}
	if len(arps) != len(peers) || len(fdbs) != len(peers) {
		t.Fatalf("device entries %v %v, want one of each per peer (%d)", arps, fdbs, len(peers))
	}
}

func TestTwoHosts(t *testing.T) {
	needRoot(t)
	a, b := twoHosts(t)

	for _, x := range []*host{a, b} {
		x.in(t, "Ensure", func() error { return Ensure(x.network()) })
		v := vxlan(t, x.h)
		if v.MTU != 1450 {
			t.Errorf("device MTU %d, want 1450 on a 1500 underlay", v.MTU)
		}
		if v.VxlanId != testVNI || !v.SrcAddr.Equal(x.underlay) || v.Port != DefaultPort || v.Learning || !v.Proxy {
			t.Errorf("device id %d local %s port %d learning %v proxy %v, want %d %s %d false true",
				v.VxlanId, v.SrcAddr, v.Port, v.Learning, v.Proxy, testVNI, x.underlay, DefaultPort)
		}
		if br := link(t, x.h, testBridge); v.MasterIndex != br.Attrs().Index {
			t.Errorf("device master %d, want the bridge (%d)", v.MasterIndex, br.Attrs().Index)
		}
		if v.Flags&net.FlagUp == 0 {
			t.Error("device is not up")
		}
	}
	addrA := fmt.Sprintf("%s:%d", a.containerIP, testPort)
	addrB := fmt.Sprintf("%s:%d", b.containerIP, testPort)
	echo(t, a.ctr, addrA)
	echo(t, b.ctr, addrB)

	// No entries yet: nothing gets across.
	if err := talk(a.ctr, addrB, time.Second); err == nil {
		t.Fatal("A's container reached B's before any peers were synced")
	}

	a.in(t, "SyncPeers A", func() error { return SyncPeers(testVNI, []Peer{b.peer()}) })
	b.in(t, "SyncPeers B", func() error { return SyncPeers(testVNI, []Peer{a.peer()}) })
	checkEntries(t, a, b.peer())
	checkEntries(t, b, a.peer())
	if err := talk(a.ctr, addrB, 3*time.Second); err != nil {
		t.Fatalf("A's container to B's: %v", err)
	}
	if err := talk(b.ctr, addrA, 3*time.Second); err != nil {
		t.Fatalf("B's container to A's: %v", err)
	}
	// A's container learnt B's MAC from the ARP proxy of A's device,
	// and the frames went through the VXLAN devices.
	checkNeighbour(t, a, b)
	for _, x := range []*host{a, b} {
		if s := vxlan(t, x.h).Statistics; s == nil || s.TxPackets == 0 || s.RxPackets == 0 {
			t.Fatalf("device statistics %+v: no packets through it", s)
		}
	}

	// Syncing again changes nothing.
	a.in(t, "SyncPeers A again", func() error { return SyncPeers(testVNI, []Peer{b.peer(), b.peer()}) })
	checkEntries(t, a, b.peer())

	// Without peers on A, A's frames for B have nowhere to go (A's
	// container still has B's MAC cached; the device drops the frame).
	a.in(t, "SyncPeers A, none", func() error { return SyncPeers(testVNI, nil) })
	checkEntries(t, a)
	if err := talk(a.ctr, addrB, time.Second); err == nil {
		t.Fatal("A's container reached B's after A's peers were removed")
	}

	// B's container moves to a host that does not exist: A's entry is
	// replaced, and nothing gets across; moved back, it does again.
	gone := b.peer()
	gone.VTEP = net.IPv4(198, 18, 1, 99)
	a.in(t, "SyncPeers A, wrong VTEP", func() error { return SyncPeers(testVNI, []Peer{gone}) })
	checkEntries(t, a, gone)
	if err := talk(a.ctr, addrB, time.Second); err == nil {
		t.Fatal("A's container reached B's through a VTEP that does not exist")
	}
	a.in(t, "SyncPeers A, right VTEP", func() error { return SyncPeers(testVNI, []Peer{b.peer()}) })
	checkEntries(t, a, b.peer())
	if err := talk(a.ctr, addrB, 3*time.Second); err != nil {
		t.Fatalf("A's container to B's after the VTEP was put right: %v", err)
	}

	// Removed, the device is gone with its entries; removing again is fine.
	a.in(t, "Remove", func() error { return Remove(testVNI) })
	if _, err := a.h.LinkByName(DeviceName(testVNI)); !isNotFound(err) {
		t.Fatalf("device after Remove: %v, want not found", err)
	}
	a.in(t, "Remove again", func() error { return Remove(testVNI) })
	if err := talk(a.ctr, addrB, time.Second); err == nil {
		t.Fatal("A's container reached B's after A's device was removed")
	}
	a.in(t, "SyncPeers without a device", func() error {
		if err := SyncPeers(testVNI, []Peer{b.peer()}); err == nil {
			return errors.New("no error")
		}
		return nil
	})

	checkRootUntouched(t)
}

// checkNeighbour checks A's container has B's container's MAC.
func checkNeighbour(t *testing.T, a, b *host) {
	t.Helper()
	eth := link(t, a.hc, "eth0")
	ns, err := a.hc.NeighList(eth.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.IP.Equal(b.containerIP) {
			if n.HardwareAddr.String() != MACFor(b.containerIP).String() {
				t.Fatalf("A's container has %s at %s, want %s", b.containerIP, n.HardwareAddr, MACFor(b.containerIP))
			}
			return
		}
	}
	t.Fatalf("A's container has no neighbour entry for %s: %v", b.containerIP, ns)
}

// checkRootUntouched checks the test made none of its devices in its own
// namespace.
func checkRootUntouched(t *testing.T) {
	t.Helper()
	for _, name := range []string{DeviceName(testVNI), testBridge} {
		if _, err := netlink.LinkByName(name); !isNotFound(err) {
			t.Errorf("%s in the test's own namespace: %v", name, err)
		}
	}
}

// TestEnsure checks Ensure's repairs and replacements on one host.
func TestEnsure(t *testing.T) {
	needRoot(t)
	ns, h := newNS(t)
	must(t, "underlay", h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ul0", MTU: 9000}, PeerName: "ul1", PeerMTU: 9000}))
	must(t, "underlay address", h.AddrAdd(link(t, h, "ul0"), &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(198, 18, 1, 1), Mask: net.CIDRMask(24, 32)}}))
	must(t, "underlay up", h.LinkSetUp(link(t, h, "ul0")))
	x := &host{ns: ns, h: h, underlay: net.IPv4(198, 18, 1, 1).To4()}
	n := x.network()

	if err := inNS(ns, func() error { return Ensure(n) }); err == nil || !strings.HasPrefix(err.Error(), "overlay: bridge "+testBridge) {
		t.Fatalf("Ensure without the bridge: %v, want overlay: bridge %s ...", err, testBridge)
	}
	addBridge(t, h)
	other := n
	other.Local = net.IPv4(198, 18, 1, 7)
	if err := inNS(ns, func() error { return Ensure(other) }); err == nil || !strings.Contains(err.Error(), "not assigned to any interface") {
		t.Fatalf("Ensure with a local address not on this host: %v, want not assigned", err)
	}

	x.in(t, "Ensure", func() error { return Ensure(n) })
	first := vxlan(t, h)
	if first.MTU != 9000-Overhead {
		t.Errorf("MTU %d on a 9000 underlay, want %d", first.MTU, 9000-Overhead)
	}
	x.in(t, "Ensure again", func() error { return Ensure(n) })
	if v := vxlan(t, h); v.Index != first.Index {
		t.Errorf("Ensure again made a new device (index %d, was %d)", v.Index, first.Index)
	}

	// Taken down and off the bridge: put back, same device.
	must(t, "down", h.LinkSetDown(first))
	must(t, "nomaster", h.LinkSetNoMaster(first))
	x.in(t, "Ensure repairs", func() error { return Ensure(n) })
	v := vxlan(t, h)
	if v.Index != first.Index || v.Flags&net.FlagUp == 0 || v.MasterIndex != link(t, h, testBridge).Attrs().Index {
		t.Errorf("after repair: index %d (was %d), up %v, master %d", v.Index, first.Index, v.Flags&net.FlagUp != 0, v.MasterIndex)
	}

	// A set MTU is changed in place.
	n.MTU = 1400
	x.in(t, "Ensure MTU 1400", func() error { return Ensure(n) })
	if v := vxlan(t, h); v.Index != first.Index || v.MTU != 1400 {
		t.Errorf("after MTU 1400: index %d (was %d), MTU %d", v.Index, first.Index, v.MTU)
	}

	// Another port can only be had by a new device.
	x.in(t, "SyncPeers", func() error { return SyncPeers(testVNI, []Peer{docker("10.77.0.3", "198.18.1.2")}) })
	n.Port = 8472
	x.in(t, "Ensure port 8472", func() error { return Ensure(n) })
	v = vxlan(t, h)
	if v.Index == first.Index || v.Port != 8472 || v.MTU != 1400 || v.MasterIndex != link(t, h, testBridge).Attrs().Index || v.Flags&net.FlagUp == 0 {
		t.Errorf("after port 8472: index %d (was %d), port %d, MTU %d, master %d, up %v",
			v.Index, first.Index, v.Port, v.MTU, v.MasterIndex, v.Flags&net.FlagUp != 0)
	}
	checkEntries(t, x) // the new device starts empty

	// A device of that name that is not VXLAN is replaced too.
	x.in(t, "Remove", func() error { return Remove(testVNI) })
	must(t, "squatter", h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: DeviceName(testVNI)}}))
	x.in(t, "Ensure over a bridge of that name", func() error { return Ensure(n) })
	vxlan(t, h)
	x.in(t, "Remove", func() error { return Remove(testVNI) })

	checkRootUntouched(t)
}

// TestSyncAfterDown checks that what a device taken down loses (its
// neighbour entries: the kernel flushes them, permanent ones too; its
// forwarding entries stay) Ensure and SyncPeers put back, as Ensure's
// doc says to do.
func TestSyncAfterDown(t *testing.T) {
	needRoot(t)
	ns, h := newNS(t)
	must(t, "underlay", h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ul0"}, PeerName: "ul1"}))
	must(t, "underlay address", h.AddrAdd(link(t, h, "ul0"), &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(198, 18, 1, 1), Mask: net.CIDRMask(24, 32)}}))
	must(t, "underlay up", h.LinkSetUp(link(t, h, "ul0")))
	addBridge(t, h)
	x := &host{ns: ns, h: h, underlay: net.IPv4(198, 18, 1, 1).To4()}
	p := docker("10.77.0.3", "198.18.1.2")
	x.in(t, "Ensure", func() error { return Ensure(x.network()) })
	x.in(t, "SyncPeers", func() error { return SyncPeers(testVNI, []Peer{p}) })
	checkEntries(t, x, p)
	must(t, "down", h.LinkSetDown(vxlan(t, h)))
	x.in(t, "Ensure", func() error { return Ensure(x.network()) })
	arps, fdbs := entries(t, x)
	t.Logf("after down and Ensure: neighbours %v, forwarding %v", arps, fdbs)
	x.in(t, "SyncPeers", func() error { return SyncPeers(testVNI, []Peer{p}) })
	checkEntries(t, x, p)
}
