package ingress

import (
	"fmt"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
)

// The range published ports are picked from when a spec leaves one out,
// as Docker's.
const (
	FirstAutoPort = 30000
	LastAutoPort  = 32767
)

var _ hooks.ServiceMutator = (*Plugin)(nil)

// MutateService gives every port without a published number one: the one
// it had before an update, else the lowest free port of the range.
func (p *Plugin) MutateService(view *store.ReadTx, spec *types.ServiceSpec, old *types.Service) error {
	used := map[string]bool{}
	for _, svc := range view.Services() {
		if old != nil && svc.ID == old.ID {
			continue
		}
		for _, pc := range svc.Spec.Ports {
			used[key(pc.PublishedPort, pc.Protocol)] = true
		}
	}
	for _, pc := range spec.Ports {
		if pc.PublishedPort != 0 {
			used[key(pc.PublishedPort, pc.Protocol)] = true
		}
	}
	for i := range spec.Ports {
		pc := &spec.Ports[i]
		if pc.PublishedPort != 0 {
			continue
		}
		if prev := previous(old, *pc); prev != 0 && !used[key(prev, pc.Protocol)] {
			pc.PublishedPort = prev
		} else if pc.PublishedPort = free(used, pc.Protocol); pc.PublishedPort == 0 {
			return fmt.Errorf("ingress: no free port left in %d-%d for target %d/%s", FirstAutoPort, LastAutoPort, pc.TargetPort, pc.Protocol)
		}
		used[key(pc.PublishedPort, pc.Protocol)] = true
	}
	return nil
}

func key(port uint16, proto string) string { return fmt.Sprintf("%d/%s", port, proto) }

// previous is the published port the old spec gave the same target.
func previous(old *types.Service, pc types.PortConfig) uint16 {
	if old == nil {
		return 0
	}
	for _, o := range old.Spec.Ports {
		if o.TargetPort == pc.TargetPort && o.Protocol == pc.Protocol {
			return o.PublishedPort
		}
	}
	return 0
}

func free(used map[string]bool, proto string) uint16 {
	for p := FirstAutoPort; p <= LastAutoPort; p++ {
		if !used[key(uint16(p), proto)] {
			return uint16(p)
		}
	}
	return 0
}
