package dns

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/watch"
	swdns "sw/dns"
	"sw/loadbalancer/nat"
)

// RunNode serves names on the task network's gateway (port 53, shared
// with the other nodes of the swarm on this host), points new task
// containers at it, and keeps the records and the VIP forwarding rules
// matching the committed state until ctx ends.
func (p *Plugin) RunNode(ctx context.Context, host hooks.Host) error {
	tn := host.TaskNetwork()
	if tn.Gateway == "" {
		return fmt.Errorf("dns: this node has no task network")
	}
	srv := &swdns.Server{Addr: net.JoinHostPort(tn.Gateway, "53"), Upstreams: upstreams(),
		ReusePort: true, Logger: host.Logger()}
	srv.SetRecords(Records(host.Store().View()))
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Close()
	host.SetTaskDNS([]string{tn.Gateway})
	defer host.SetTaskDNS(nil)

	chain := nat.NewChain(nat.ChainPrefix+"V-"+short(host.NodeID()), os.Getpid(), nat.Exec)
	defer chain.Close(context.Background())
	if err := nat.Collect(ctx, nat.Exec, chain.Name(), nat.Alive); err != nil {
		host.Logger().Warn("dns: cannot remove rules left by a dead daemon", "err", err)
	}
	var failed string
	watch.Loop(ctx, host.Store(), "dns", host.Logger(), func(ctx context.Context, view *store.ReadTx) (time.Time, error) {
		srv.SetRecords(Records(view))
		err := chain.Sync(ctx, VIPRules(view, tn.Bridge))
		if err != nil && err.Error() != failed {
			host.Logger().Error("dns: cannot program virtual IPs", "err", err)
		}
		if err != nil {
			failed = err.Error()
			return time.Now().Add(5 * time.Second), nil // retry, quietly
		}
		failed = ""
		return time.Time{}, nil
	})
	return nil
}

// upstreams are the resolvers for other names: SW_DNS_UPSTREAM
// ("ip:port,…") if set, else the host's /etc/resolv.conf.
func upstreams() []string {
	if v := os.Getenv("SW_DNS_UPSTREAM"); v != "" {
		return strings.Split(v, ",")
	}
	return swdns.HostUpstreams("/etc/resolv.conf")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
