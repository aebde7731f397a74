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
	"sw/cluster/types"
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
	chain := nat.NewChain(nat.ChainPrefix+"V-"+types.ShortID(host.NodeID()), nat.Self(), nat.Exec)
	defer chain.Close(context.Background())
	if err := nat.Collect(ctx, nat.Exec, chain.Name(), nat.Alive); err != nil {
		host.Logger().Warn("dns: cannot remove rules left by a dead daemon", "err", err)
	}
	// The VIPs work before their names resolve: the rules first, then
	// the server.
	var report hooks.ErrorOnce
	report.Report(host.Logger(), "dns: cannot program virtual IPs", chain.Sync(ctx, VIPRules(host.Store().View(), tn.NetworkID, tn.Bridge)))
	srv := &swdns.Server{Addr: net.JoinHostPort(tn.Gateway, "53"), Upstreams: upstreams(),
		ReusePort: true, Logger: host.Logger()}
	srv.SetRecords(Records(host.Store().View(), tn.NetworkID))
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Close()
	host.SetTaskDNS([]string{tn.Gateway})
	defer host.SetTaskDNS(nil)

	watch.Loop(ctx, host.Store(), "dns", host.Logger(), func(ctx context.Context, view *store.ReadTx) (time.Time, error) {
		srv.SetRecords(Records(view, tn.NetworkID))
		err := chain.Sync(ctx, VIPRules(view, tn.NetworkID, tn.Bridge))
		report.Report(host.Logger(), "dns: cannot program virtual IPs", err)
		if err != nil {
			return time.Now().Add(5 * time.Second), nil // retry, quietly
		}
		return time.Now().Add(refreshEvery), nil // the rules' refresh
	})
	return nil
}

// refreshEvery is how often rules removed behind sw's back are restored.
const refreshEvery = 30 * time.Second

// upstreams are the resolvers for other names: SW_DNS_UPSTREAM
// ("ip:port,…") if set, else the host's /etc/resolv.conf.
func upstreams() []string {
	if v := os.Getenv("SW_DNS_UPSTREAM"); v != "" {
		return strings.Split(v, ",")
	}
	return swdns.HostUpstreams("/etc/resolv.conf")
}
