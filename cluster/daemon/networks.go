package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"

	"sw/cluster/api"
	"sw/cluster/spec"
	"sw/cluster/store"
	"sw/cluster/types"
)

// overlayDriver is the only network driver a swarm has.
const overlayDriver = "overlay"

// maxNetworkNameLen is the longest a network's name may be, in bytes.
const maxNetworkNameLen = 64

// networkNameRE is Docker's rule for network names.
var networkNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// aliasRE is what an alias of a service on a network may be: one DNS
// label, by the rule service names follow (the names the DNS plugin
// answers for).
var aliasRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$`)

// predefinedNetworks are the names of the engine's own networks, which
// Docker refuses for a network of a user's too.
var predefinedNetworks = []string{"bridge", "host", "none", "default", "ingress"}

// maxNetworkPrefix is the longest prefix a subnet asked for may have: a
// /30 holds a gateway and one task; a /31 or /32 neither.
const maxNetworkPrefix = 30

// CreateNetwork validates and commits a network made by a user. The
// leader's allocator gives it its subnet (the one asked for, or one of
// the swarm's pools), gateway and VXLAN ID once it is committed.
func (d *Daemon) CreateNetwork(ctx context.Context, s types.NetworkSpec) (string, error) {
	sw, err := d.current()
	if err != nil {
		return "", err
	}
	if err := checkNetworkSpec(&s); err != nil {
		return "", store.Errorf(api.ErrBadRequest, "%w", err)
	}
	n := &types.Network{ID: types.NewID(), Spec: s}
	if err := d.propose(ctx, sw, store.Change{CreateNetwork: n}); err != nil {
		return "", err
	}
	return n.ID, nil
}

// RemoveNetwork deletes a network; the store refuses one a service still
// names, and the default network.
func (d *Daemon) RemoveNetwork(ctx context.Context, id string) error {
	sw, err := d.current()
	if err != nil {
		return err
	}
	return d.propose(ctx, sw, store.Change{DeleteNetwork: id})
}

// checkNetworkSpec completes a network spec from a user (the driver
// defaults to overlay) and returns every problem with it, joined, one
// per line.
func checkNetworkSpec(s *types.NetworkSpec) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch name := s.Name; {
	case name == "":
		bad("no network name given: a network needs a name")
	case len(name) > maxNetworkNameLen:
		bad("invalid network name %q: %d characters long, the limit is %d", clipRef(name), len(name), maxNetworkNameLen)
	case !networkNameRE.MatchString(name):
		bad("invalid network name %q: use letters, digits, '_', '.' or '-', starting with a letter or digit", clipRef(name))
	case name == types.DefaultNetworkName:
		bad("%s is the swarm's default network and cannot be created", name)
	case slices.Contains(predefinedNetworks, name):
		bad("%s is a pre-defined network and cannot be created", name)
	}
	if s.Driver == "" {
		s.Driver = overlayDriver
	}
	if s.Driver != overlayDriver {
		bad("invalid network driver %q: only overlay networks are supported in a swarm", clipRef(s.Driver))
	}
	if s.Ingress {
		bad("a network cannot be made an ingress network: the swarm's routing mesh is on its default network, %s", types.DefaultNetworkName)
	}
	if err := spec.ValidateLabels("network label", s.Labels); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkAddrs(s)...)
	return errors.Join(errs...)
}

// checkAddrs checks the subnet and gateway asked for, if any, and writes
// them in their canonical form.
func checkAddrs(s *types.NetworkSpec) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.Subnet == "" {
		if s.Gateway != "" {
			bad("gateway %q given without a subnet: give the subnet it is in too", clipRef(s.Gateway))
		}
		return errs
	}
	sub, err := netip.ParsePrefix(s.Subnet)
	switch {
	case err != nil:
		bad("invalid subnet %q: want an IPv4 CIDR such as 10.10.0.0/24", clipRef(s.Subnet))
		return errs
	case !sub.Addr().Is4():
		bad("invalid subnet %q: only IPv4 subnets are supported", clipRef(s.Subnet))
		return errs
	case sub.Masked() != sub:
		bad("invalid subnet %q: it has host bits set; did you mean %s?", s.Subnet, sub.Masked())
		return errs
	case sub.Bits() > maxNetworkPrefix:
		bad("invalid subnet %s: too small for a gateway and tasks; the longest prefix is /%d", sub, maxNetworkPrefix)
		return errs
	}
	s.Subnet = sub.String()
	if s.Gateway == "" {
		return errs
	}
	gw, err := netip.ParseAddr(s.Gateway)
	switch {
	case err != nil || !gw.Is4():
		bad("invalid gateway %q: want an IPv4 address", clipRef(s.Gateway))
	case !sub.Contains(gw):
		bad("invalid gateway %s: it is not in subnet %s", gw, sub)
	case gw == sub.Addr():
		bad("invalid gateway %s: it is the network address of subnet %s", gw, sub)
	case gw == store.Broadcast(sub):
		bad("invalid gateway %s: it is the broadcast address of subnet %s", gw, sub)
	default:
		s.Gateway = gw.String()
	}
	return errs
}

// resolveNetworks returns a service's network attachments with each
// Target, a network's name, ID or unique ID prefix as the user gave it,
// replaced by the network's ID. It refuses a network that does not exist
// or is given twice, and an alias that is not a DNS label or is given
// twice on a network.
func resolveNetworks(view *store.ReadTx, nets []types.NetworkAttachmentConfig) ([]types.NetworkAttachmentConfig, error) {
	if len(nets) == 0 {
		return nil, nil
	}
	out := make([]types.NetworkAttachmentConfig, len(nets))
	seen := map[string]bool{}
	for i, a := range nets {
		if a.Target == "" {
			return nil, store.Errorf(api.ErrBadRequest, "invalid network attachment %d: it names no network", i+1)
		}
		n, err := view.FindNetwork(a.Target)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, store.Errorf(store.ErrNotFound, "network %s not found", clipRef(a.Target))
		case err != nil:
			return nil, store.Errorf(api.ErrBadRequest, "%w", err)
		case seen[n.ID]:
			return nil, store.Errorf(api.ErrBadRequest, "network %s is attached more than once", n.Spec.Name)
		}
		seen[n.ID] = true
		aliases := map[string]bool{}
		for _, al := range a.Aliases {
			switch {
			case !aliasRE.MatchString(al):
				return nil, store.Errorf(api.ErrBadRequest,
					"invalid alias %q on network %s: use 1-63 letters, digits, '-' or '_', starting and ending with a letter or digit",
					clipRef(al), n.Spec.Name)
			case aliases[al]:
				return nil, store.Errorf(api.ErrBadRequest, "alias %q is given twice on network %s", al, n.Spec.Name)
			}
			aliases[al] = true
		}
		out[i] = types.NetworkAttachmentConfig{Target: n.ID, Aliases: slices.Clone(a.Aliases)}
	}
	return out, nil
}

// sameNetworks reports whether two services' attachments are the same:
// the same networks, in order, with the same aliases. No networks at all
// is the same however written (nil or empty).
func sameNetworks(a, b []types.NetworkAttachmentConfig) bool {
	return slices.EqualFunc(a, b, func(x, y types.NetworkAttachmentConfig) bool {
		return x.Target == y.Target && slices.Equal(x.Aliases, y.Aliases)
	})
}

// clipRef shortens a value quoted in an error, so that an error about a
// huge value is not huge itself.
func clipRef(s string) string {
	const keep = 64
	if len(s) <= keep {
		return s
	}
	return s[:keep] + "..."
}
