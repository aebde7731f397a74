package ingress

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
	"sw/loadbalancer"
)

// RunNode keeps this node's listeners matching the published ports and
// their backends matching the running tasks, until ctx ends.
func (p *Plugin) RunNode(ctx context.Context, host hooks.Host) error {
	proxy := loadbalancer.New(host.Logger())
	defer proxy.Close()
	kernel := newKernelPath(ctx, host)
	defer kernel.close()
	var report hooks.ErrorOnce
	// Ports that failed to open are retried every few seconds, jittered.
	retry := backoff.Backoff{Initial: 5 * time.Second, Jitter: backoff.Equal}
	defer host.Applied("ingress", hooks.LoopStopped)
	for {
		changed := host.Store().Changed()
		view := host.Store().View()
		want := Frontends(view, host.IngressAddr(), host.NodeID())
		report.Report(host.Logger(), "ingress: cannot open published port", proxy.Sync(want))
		// The kernel forwards only the ports this node holds open: a port
		// another program has keeps going to that program.
		kernel.sync(ctx, held(want, proxy.Frontends()))
		host.Applied("ingress", view.Index)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-retry.After(retry.Next()): // retry ports that failed to open
		}
	}
}

// held keeps the listeners of want that are open.
func held(want map[loadbalancer.Frontend][]string, open []loadbalancer.Frontend) map[loadbalancer.Frontend][]string {
	out := make(map[loadbalancer.Frontend][]string, len(open))
	for _, fe := range open {
		if be, ok := want[fe]; ok {
			out[fe] = be
		}
	}
	return out
}

// Frontends computes the listeners node nodeID should have: one per
// published port, backed by the running tasks' addresses — of any node in
// ingress mode; in host mode only this node's, and only while it has some.
func Frontends(view *store.ReadTx, ingressAddr, nodeID string) map[loadbalancer.Frontend][]string {
	want := map[loadbalancer.Frontend][]string{}
	mesh := ""
	if n := view.NetworkByName(types.DefaultNetworkName); n != nil {
		mesh = n.ID
	}
	for _, svc := range view.Services() {
		if len(svc.Spec.Ports) == 0 {
			continue
		}
		tasks := view.TasksOfService(svc.ID)
		for _, port := range svc.Spec.Ports {
			fe := loadbalancer.Frontend{Proto: port.Protocol,
				Addr: net.JoinHostPort(ingressAddr, strconv.Itoa(int(port.PublishedPort)))}
			hostMode := port.PublishMode == "host"
			backends := []string{}
			for _, t := range tasks {
				if t.Serving() && (!hostMode || t.NodeID == nodeID) {
					// The task's address on the mesh's network, which
					// every host reaches.
					addr := types.AddrOn(t.Networks, mesh)
					if addr == "" {
						addr = t.Status.Addr
					}
					backends = append(backends, net.JoinHostPort(addr, strconv.Itoa(int(port.TargetPort))))
				}
			}
			if hostMode && len(backends) == 0 {
				continue
			}
			want[fe] = backends
		}
	}
	return want
}

// ValidateService refuses a published port that another service uses.
func (p *Plugin) ValidateService(view *store.ReadTx, spec *types.ServiceSpec, old *types.Service) error {
	for _, port := range spec.Ports {
		for _, other := range view.Services() {
			if old != nil && other.ID == old.ID {
				continue
			}
			for _, op := range other.Spec.Ports {
				if op.PublishedPort == port.PublishedPort && op.Protocol == port.Protocol {
					return fmt.Errorf("ingress: port %d/%s is already in use by service %q",
						port.PublishedPort, port.Protocol, other.Spec.Name)
				}
			}
		}
	}
	return nil
}
