package dns

import (
	"fmt"

	"sw/cluster/store"
	"sw/cluster/types"
)

// MutateService gives a spec without an endpoint mode Docker's default,
// vip. The virtual IP itself comes later, from the leader's allocator, on
// the service's network.
func (p *Plugin) MutateService(_ *store.ReadTx, spec *types.ServiceSpec, _ *types.Service) error {
	if spec.EndpointMode == "" {
		spec.EndpointMode = types.EndpointVIP
	}
	return nil
}

// ValidateService checks the endpoint mode.
func (p *Plugin) ValidateService(_ *store.ReadTx, spec *types.ServiceSpec, _ *types.Service) error {
	switch spec.EndpointMode {
	case types.EndpointVIP, types.EndpointDNSRR:
		return nil
	}
	return fmt.Errorf("dns: invalid endpoint mode %q: want vip or dnsrr", spec.EndpointMode)
}
