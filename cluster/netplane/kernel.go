package netplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"sw/cluster/overlay"
	"sw/cluster/types"
	"sw/loadbalancer/nat"
)

// Kernel is the Fabric of a real host: netlink for the bridge and the
// overlay, iptables for the mesh's source address.
type Kernel struct{}

var _ Fabric = Kernel{}

// Bridge implements Fabric.
func (Kernel) Bridge(bridge string, addrs []string, mac string) error {
	link, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("netplane: bridge %s: %w", bridge, err)
	}
	if hw, err := net.ParseMAC(mac); err == nil && link.Attrs().HardwareAddr.String() != hw.String() {
		if err := netlink.LinkSetHardwareAddr(link, hw); err != nil {
			return fmt.Errorf("netplane: set %s's MAC: %w", bridge, err)
		}
	}
	have, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("netplane: addresses of %s: %w", bridge, err)
	}
	want := map[string]bool{}
	for _, a := range addrs {
		want[a] = true
	}
	var errs []error
	for _, a := range have {
		if ones, _ := a.Mask.Size(); ones != 32 {
			continue // the engine's gateway address
		}
		if s := a.IP.String(); want[s] {
			delete(want, s)
		} else if err := netlink.AddrDel(link, &a); err != nil {
			errs = append(errs, fmt.Errorf("netplane: remove %s from %s: %w", s, bridge, err))
		}
	}
	for a := range want {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Is4() {
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(32, 32)}}
		if err := netlink.AddrReplace(link, addr); err != nil {
			errs = append(errs, fmt.Errorf("netplane: add %s to %s: %w", a, bridge, err))
		}
	}
	return errors.Join(errs...)
}

// Overlay implements Fabric.
func (Kernel) Overlay(n *types.Network, bridge, local string, port int, peers []Peer) error {
	if len(peers) == 0 {
		return overlay.Remove(n.VNI)
	}
	on := overlay.Network{VNI: n.VNI, Bridge: bridge, Local: net.ParseIP(local), Port: port}
	if err := overlay.Ensure(on); err != nil {
		return err
	}
	ps := make([]overlay.Peer, 0, len(peers))
	for _, p := range peers {
		mac, err := net.ParseMAC(p.MAC)
		if err != nil {
			continue
		}
		ps = append(ps, overlay.Peer{IP: net.ParseIP(p.IP), MAC: mac, VTEP: net.ParseIP(p.VTEP)})
	}
	return overlay.SyncPeers(n.VNI, ps)
}

// SourceFor implements Fabric.
func (Kernel) SourceFor(ctx context.Context, bridge, addr string) error {
	return nat.SourceFor(ctx, nat.Exec, bridge, addr)
}

// Forget implements Fabric.
func (Kernel) Forget(ctx context.Context, bridge, addr string) {
	_ = nat.ForgetSource(ctx, nat.Exec, bridge, addr)
}
