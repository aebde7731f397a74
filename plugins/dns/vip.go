package dns

import (
	"fmt"
	"net/netip"

	"sw/cluster/store"
	"sw/cluster/types"
)

// VIPRange is where virtual IPs come from (Docker's first default pool).
// Task containers reach it through their gateway, so it must not overlap
// the task network; it is only translated for traffic from that network.
var VIPRange = netip.MustParsePrefix("10.0.0.0/16")

// MutateService gives a vip-mode service a virtual IP, keeping the one it
// has across updates; a dnsrr service has none.
func (p *Plugin) MutateService(view *store.ReadTx, spec *types.ServiceSpec, old *types.Service) error {
	if spec.EndpointMode == "" {
		spec.EndpointMode = types.EndpointVIP
	}
	if spec.EndpointMode != types.EndpointVIP {
		spec.VirtualIP = ""
		return nil
	}
	if old != nil && old.Spec.VirtualIP != "" {
		spec.VirtualIP = old.Spec.VirtualIP
		return nil
	}
	used := map[netip.Addr]bool{}
	for _, s := range view.Services() {
		if a, err := netip.ParseAddr(s.Spec.VirtualIP); err == nil {
			used[a] = true
		}
	}
	vip, err := freeVIP(used)
	if err != nil {
		return err
	}
	spec.VirtualIP = vip.String()
	return nil
}

// freeVIP returns the lowest address of VIPRange not in used, skipping
// the network's first two addresses (as Docker keeps .0 and .1).
func freeVIP(used map[netip.Addr]bool) (netip.Addr, error) {
	a := VIPRange.Addr().Next().Next()
	for ; VIPRange.Contains(a); a = a.Next() {
		if !used[a] && VIPRange.Contains(a.Next()) { // not the broadcast address
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("dns: no virtual IP left in %s", VIPRange)
}

// ValidateService checks the endpoint mode and that the VIP is free.
func (p *Plugin) ValidateService(view *store.ReadTx, spec *types.ServiceSpec, old *types.Service) error {
	switch spec.EndpointMode {
	case types.EndpointVIP, types.EndpointDNSRR:
	default:
		return fmt.Errorf("dns: invalid endpoint mode %q: want vip or dnsrr", spec.EndpointMode)
	}
	if spec.VirtualIP == "" {
		return nil
	}
	for _, s := range view.Services() {
		if s.Spec.VirtualIP == spec.VirtualIP && (old == nil || s.ID != old.ID) {
			return fmt.Errorf("dns: virtual IP %s is already used by service %q", spec.VirtualIP, s.Spec.Name)
		}
	}
	return nil
}
