package ingress

import (
	"cmp"
	"context"
	"net"
	"os"
	"slices"
	"strconv"

	"sw/cluster/hooks"
	"sw/cluster/types"
	"sw/loadbalancer"
	"sw/loadbalancer/nat"
)

// kernelPath forwards published ports in the kernel (netfilter DNAT),
// which costs no userspace hop; the userspace listeners stay open behind
// it, holding the ports and serving whenever the kernel path cannot be
// used (no iptables, no privilege, or SW_INGRESS_USERSPACE=1).
type kernelPath struct {
	chain  *nat.Chain
	host   hooks.Host
	report hooks.ErrorOnce
}

// newKernelPath returns nil when the kernel path is switched off.
func newKernelPath(ctx context.Context, host hooks.Host) *kernelPath {
	if os.Getenv("SW_INGRESS_USERSPACE") == "1" {
		host.Logger().Info("ingress: kernel forwarding off (SW_INGRESS_USERSPACE=1); userspace proxy only")
		return nil
	}
	name := nat.ChainPrefix + "M-" + types.ShortID(host.NodeID())
	k := &kernelPath{chain: nat.NewChain(name, nat.Self(), nat.Exec), host: host}
	if err := nat.Collect(ctx, nat.Exec, name, nat.Alive); err != nil {
		host.Logger().Warn("ingress: cannot remove forwarding rules left by a dead daemon", "err", err)
	}
	return k
}

// sync makes the kernel forward what want describes.
func (k *kernelPath) sync(ctx context.Context, want map[loadbalancer.Frontend][]string) {
	if k == nil {
		return
	}
	var err error
	if loopback(k.host.IngressAddr()) {
		// Traffic to 127.0.0.0/8 may only be forwarded to containers with
		// route_localnet on their bridge (guarded against containers
		// reaching the host's loopback services).
		err = nat.RouteLocalnet(ctx, nat.Exec, k.host.TaskNetwork().Bridge)
	}
	if err == nil {
		err = k.chain.Sync(ctx, Rules(want))
	}
	k.report.Report(k.host.Logger(), "ingress: kernel forwarding unavailable; the userspace proxy serves", err)
}

// loopback reports whether published ports listen on a loopback address
// (or on all addresses, 127.0.0.1 among them).
func loopback(addr string) bool {
	ip := net.ParseIP(addr)
	return addr == "" || ip == nil || ip.IsLoopback() || ip.IsUnspecified()
}

// close removes the node's rules.
func (k *kernelPath) close() {
	if k != nil {
		_ = k.chain.Close(context.Background())
	}
}

// Rules turns listeners and their backends into kernel forwarding rules.
func Rules(want map[loadbalancer.Frontend][]string) []nat.Rule {
	rules := make([]nat.Rule, 0, len(want))
	for _, fe := range sortedFrontends(want) {
		host, portStr, err := net.SplitHostPort(fe.Addr)
		port, perr := strconv.ParseUint(portStr, 10, 16)
		if err != nil || perr != nil {
			continue
		}
		if host == "0.0.0.0" {
			host = ""
		}
		rules = append(rules, nat.Rule{Proto: fe.Proto, Dst: host, Port: uint16(port), Backends: want[fe]})
	}
	return rules
}

// sortedFrontends orders the listeners so that equal states render equal
// rules (and unchanged rules are not rewritten).
func sortedFrontends(want map[loadbalancer.Frontend][]string) []loadbalancer.Frontend {
	out := make([]loadbalancer.Frontend, 0, len(want))
	for fe := range want {
		out = append(out, fe)
	}
	slices.SortFunc(out, func(a, b loadbalancer.Frontend) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Addr, b.Addr))
	})
	return out
}
