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
// resolve: for each service on that network, `<service>` and its aliases
// (its virtual IP there, or the task addresses in dnsrr mode) and
// `tasks.<service>` (the addresses of its running tasks there, on any
// node).
func Records(view *store.ReadTx, networkID string) swdns.Records {
	out := swdns.Records{}
	def := defaultNetwork(view)
	for _, svc := range view.Services() {
		aliases, on := onNetwork(svc, networkID, def)
		if !on {
			continue
		}
		addrs := taskIPs(view, svc, networkID)
		out[swdns.Name("tasks."+svc.Spec.Name)] = addrs
		answer := addrs
		if ip := net.ParseIP(types.AddrOn(svc.VirtualIPs, networkID)); ip != nil && svc.Spec.EndpointMode != types.EndpointDNSRR {
			answer = []net.IP{ip}
		}
		for _, name := range append([]string{svc.Spec.Name}, aliases...) {
			out[swdns.Name(name)] = answer
		}
	}
	return out
}

// Views computes what each task sees: a table per network, and for each
// task address the tables of that task's networks, in its order. A
// client the views do not know (a container outside the swarm's tasks)
// sees none of them.
func Views(view *store.ReadTx) swdns.Views {
	v := swdns.Views{Tables: map[string]swdns.Records{}, Clients: map[string][]string{}}
	for _, n := range view.Networks() {
		v.Tables[n.ID] = Records(view, n.ID)
	}
	for _, t := range view.Tasks() {
		if !store.HoldsAddrs(t) {
			continue
		}
		var tables []string
		for _, a := range t.Networks {
			tables = append(tables, a.NetworkID)
		}
		for _, a := range t.Networks {
			if a.Addr != "" {
				v.Clients[a.Addr] = tables
			}
		}
	}
	return v
}

// VIPRules computes the kernel rules that send connections to each
// virtual IP on network networkID, from task containers on bridge, to the
// service's running tasks there. They are not masqueraded: the reply
// comes back to this host's bridge, where the translation is undone.
func VIPRules(view *store.ReadTx, networkID, bridge string) []nat.Rule {
	var rules []nat.Rule
	for _, svc := range view.Services() {
		vip := types.AddrOn(svc.VirtualIPs, networkID)
		if vip == "" || svc.Spec.EndpointMode == types.EndpointDNSRR {
			continue
		}
		var backends []string
		for _, ip := range taskIPs(view, svc, networkID) {
			backends = append(backends, ip.String())
		}
		rules = append(rules, nat.Rule{Dst: vip, InIface: bridge, Backends: backends, Direct: true})
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].Dst < rules[j].Dst })
	return rules
}

// onNetwork reports whether a service's tasks join network id, and its
// aliases there.
func onNetwork(svc *types.Service, id, defaultID string) ([]string, bool) {
	for _, n := range svc.Spec.Networks {
		if n.Target == id {
			return n.Aliases, true
		}
	}
	for _, n := range types.ServiceNetworks(&svc.Spec, defaultID) {
		if n == id {
			return nil, true
		}
	}
	return nil, false
}

func defaultNetwork(view *store.ReadTx) string {
	if n := view.NetworkByName(types.DefaultNetworkName); n != nil {
		return n.ID
	}
	return ""
}

// taskIPs lists the addresses on network networkID of a service's serving
// tasks, sorted (a task with no networks counts with its container's
// address).
func taskIPs(view *store.ReadTx, svc *types.Service, networkID string) []net.IP {
	var ips []net.IP
	for _, t := range view.TasksOfService(svc.ID) {
		if !t.Serving() {
			continue
		}
		addr := types.AddrOn(t.Networks, networkID)
		if addr == "" && len(t.Networks) == 0 {
			addr = t.Status.Addr
		}
		if ip := net.ParseIP(addr); ip != nil {
			ips = append(ips, ip)
		}
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i].String() < ips[j].String() })
	return ips
}
