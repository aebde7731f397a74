package dns

import (
	"net"
	"sort"

	"sw/cluster/store"
	"sw/cluster/types"
	swdns "sw/dns"
	"sw/loadbalancer/nat"
)

// Records computes the names task containers on network networkID can
// resolve: `<service>` (its virtual IP there, or the task addresses in
// dnsrr mode) and `tasks.<service>` (the addresses of the running tasks,
// on any node).
func Records(view *store.ReadTx, networkID string) swdns.Records {
	out := swdns.Records{}
	for _, svc := range view.Services() {
		addrs := taskIPs(view, svc)
		out[swdns.Name("tasks."+svc.Spec.Name)] = addrs
		if ip := net.ParseIP(types.AddrOn(svc.VirtualIPs, networkID)); ip != nil && svc.Spec.EndpointMode != types.EndpointDNSRR {
			out[swdns.Name(svc.Spec.Name)] = []net.IP{ip}
		} else {
			out[swdns.Name(svc.Spec.Name)] = addrs
		}
	}
	return out
}

// VIPRules computes the kernel rules that send connections to each
// virtual IP on network networkID, from task containers on bridge, to the
// service's running tasks.
func VIPRules(view *store.ReadTx, networkID, bridge string) []nat.Rule {
	var rules []nat.Rule
	for _, svc := range view.Services() {
		vip := types.AddrOn(svc.VirtualIPs, networkID)
		if vip == "" || svc.Spec.EndpointMode == types.EndpointDNSRR {
			continue
		}
		var backends []string
		for _, ip := range taskIPs(view, svc) {
			backends = append(backends, ip.String())
		}
		rules = append(rules, nat.Rule{Dst: vip, InIface: bridge, Backends: backends})
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].Dst < rules[j].Dst })
	return rules
}

// taskIPs lists the addresses of a service's serving tasks, sorted.
func taskIPs(view *store.ReadTx, svc *types.Service) []net.IP {
	var ips []net.IP
	for _, t := range view.TasksOfService(svc.ID) {
		if ip := net.ParseIP(t.Status.Addr); ip != nil && t.Serving() {
			ips = append(ips, ip)
		}
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i].String() < ips[j].String() })
	return ips
}
