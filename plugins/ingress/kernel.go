package ingress

import (
	"cmp"
	"context"
	"net"
	"os"
	"slices"
	"strconv"

	"sw/cluster/hooks"
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
	failed string // the last error logged, to log each failure once
}

// newKernelPath returns nil when the kernel path is switched off.
func newKernelPath(ctx context.Context, host hooks.Host) *kernelPath {
	if os.Getenv("SW_INGRESS_USERSPACE") == "1" {
		host.Logger().Info("ingress: kernel forwarding off (SW_INGRESS_USERSPACE=1); userspace proxy only")
		return nil
	}
	name := nat.ChainPrefix + "M-" + short(host.NodeID())
	k := &kernelPath{chain: nat.NewChain(name, os.Getpid(), nat.Exec), host: host}
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
	err := nat.RouteLocalnet(k.host.TaskNetwork().Bridge)
	if err == nil {
		err = k.chain.Sync(ctx, Rules(want))
	}
	switch {
	case err != nil && err.Error() != k.failed:
		k.host.Logger().Warn("ingress: kernel forwarding unavailable; the userspace proxy serves", "err", err)
		k.failed = err.Error()
	case err == nil && k.failed != "":
		k.host.Logger().Info("ingress: kernel forwarding restored")
		k.failed = ""
	}
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

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
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
