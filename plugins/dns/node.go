package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
	"sw/cluster/watch"
	swdns "sw/dns"
	"sw/loadbalancer/nat"
)

// RunNode serves names on the gateway of every swarm network this node
// has (port 53, shared with the other nodes of the swarm on this host),
// points new task containers at their first network's, and keeps the
// records and the VIP forwarding rules matching the committed state
// until ctx ends. Each task sees the names of its own networks.
func (p *Plugin) RunNode(ctx context.Context, host hooks.Host) error {
	if host.TaskNetwork().Gateway == "" {
		return fmt.Errorf("dns: this node has no task network")
	}
	chain := nat.NewChain(nat.ChainPrefix+"V-"+types.ShortID(host.NodeID()), nat.Self(), nat.Exec)
	defer chain.Close(context.Background())
	if err := nat.Collect(ctx, nat.Exec, chain.Name(), nat.Alive); err != nil {
		host.Logger().Warn("dns: cannot remove rules left by a dead daemon", "err", err)
	}
	servers := map[string]*swdns.Server{} // by gateway address
	defer func() {
		for _, srv := range servers {
			srv.Close()
		}
	}()
	host.SetTaskDNS(true)
	defer host.SetTaskDNS(false)
	var report, serveReport hooks.ErrorOnce
	retry := backoff.Backoff{Initial: 5 * time.Second, Jitter: backoff.Equal}
	defer host.Applied("dns", hooks.LoopStopped)
	watch.Loop(ctx, host.Store(), "dns", host.Logger(), func(ctx context.Context, view *store.ReadTx) (time.Time, error) {
		local := host.TaskNetworks()
		// The VIPs work before their names resolve: the rules first.
		var rules []nat.Rule
		for id, tn := range local {
			rules = append(rules, VIPRules(view, id, tn.Bridge)...)
		}
		err := chain.Sync(ctx, rules)
		report.Report(host.Logger(), "dns: cannot program virtual IPs", err)
		views := Views(view)
		serveReport.Report(host.Logger(), "dns: cannot serve names", serve(ctx, host, servers, local, views))
		host.Applied("dns", view.Index)
		wake := time.Now().Add(refreshEvery) // the rules' refresh
		if err != nil {
			wake = time.Now().Add(retry.Next()) // retry, quietly
		} else {
			retry.Reset()
		}
		if missingNetwork(view, host.NodeID(), local) {
			wake = time.Now().Add(500 * time.Millisecond) // a network coming up here
		}
		return wake, nil
	})
	return nil
}

// serve keeps a server on the gateway of each local network, all with
// the same views, and closes those of networks gone.
func serve(ctx context.Context, host hooks.Host, servers map[string]*swdns.Server, local map[string]types.TaskNetwork, views swdns.Views) error {
	want := map[string]bool{}
	var errs []error
	for _, tn := range local {
		if tn.Gateway == "" {
			continue
		}
		want[tn.Gateway] = true
		srv := servers[tn.Gateway]
		if srv == nil {
			srv = &swdns.Server{Addr: net.JoinHostPort(tn.Gateway, "53"), Upstreams: upstreams(),
				ReusePort: true, Logger: host.Logger()}
			srv.SetViews(views)
			if err := srv.Start(ctx); err != nil {
				errs = append(errs, err)
				continue
			}
			servers[tn.Gateway] = srv
		}
		srv.SetViews(views)
	}
	for gw, srv := range servers {
		if !want[gw] {
			srv.Close()
			delete(servers, gw)
		}
	}
	return errors.Join(errs...)
}

// missingNetwork reports whether a task of this node is on a network the
// engine does not have yet.
func missingNetwork(view *store.ReadTx, nodeID string, local map[string]types.TaskNetwork) bool {
	for _, t := range view.TasksOnNode(nodeID) {
		for _, a := range t.Networks {
			if _, ok := local[a.NetworkID]; !ok && t.DesiredState == types.TaskRunning {
				return true
			}
		}
	}
	return false
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
