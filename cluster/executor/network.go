package executor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/errdefs"

	"sw/cluster/types"
)

// OverlayMTU is the MTU of task interfaces on swarm networks: 1500 less
// the 50 bytes of VXLAN encapsulation, as Docker's overlay driver.
const OverlayMTU = 1450

// EnsureNetwork makes the engine's network for swarm network n exist on
// this host (a bridge network with n's subnet and gateway, shared by the
// nodes of the swarm running on this engine) and makes new task
// containers join it. A network left with another subnet (made before
// the swarm allocated one) is made again if no container uses it.
func (d *Docker) EnsureNetwork(ctx context.Context, clusterID string, n *types.Network) (types.TaskNetwork, error) {
	name, bridge := types.DockerNetworkName(clusterID, n)
	res, err := d.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if err == nil && !sameIPAM(res, n) {
		if len(res.Containers) > 0 {
			return types.TaskNetwork{}, fmt.Errorf("task network %s has subnet %v, not the swarm's %s, and containers still on it",
				name, res.IPAM.Config, n.Subnet)
		}
		if err := d.cli.NetworkRemove(ctx, name); err != nil && !errdefs.IsNotFound(err) {
			return types.TaskNetwork{}, fmt.Errorf("remove outdated task network %s: %w", name, err)
		}
		err = errdefs.NotFound(fmt.Errorf("removed"))
	}
	if errdefs.IsNotFound(err) {
		_, err = d.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge",
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: n.Subnet, Gateway: n.Gateway}}},
			Options: map[string]string{"com.docker.network.bridge.name": bridge,
				"com.docker.network.driver.mtu": strconv.Itoa(OverlayMTU)},
			Labels: map[string]string{types.LabelCluster: clusterID, types.LabelNetwork: n.ID}})
		if err != nil && !d.madeMeanwhile(ctx, name, n) {
			return types.TaskNetwork{}, fmt.Errorf("create task network %s: %w", name, err)
		}
		res, err = d.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	}
	if err != nil {
		return types.TaskNetwork{}, fmt.Errorf("inspect task network %s: %w", name, err)
	}
	out := types.TaskNetwork{Name: name, Bridge: bridge, Subnet: n.Subnet, Gateway: n.Gateway, NetworkID: n.ID}
	if b := res.Options["com.docker.network.bridge.name"]; b != "" {
		out.Bridge = b
	}
	d.mu.Lock()
	if d.networks == nil {
		d.networks = map[string]localNetwork{}
	}
	d.networks[n.ID] = localNetwork{TaskNetwork: out, spec: *n}
	d.clusterID = clusterID
	if n.Spec.Name == types.DefaultNetworkName {
		d.network = out
	}
	d.mu.Unlock()
	return out, nil
}

// localNetwork is a swarm network as this engine has it.
type localNetwork struct {
	types.TaskNetwork
	spec types.Network
}

// DropNetwork deletes the engine's network for swarm network n once no
// container uses it (the engine refuses before: call again later).
func (d *Docker) DropNetwork(ctx context.Context, clusterID string, n *types.Network) error {
	name, _ := types.DockerNetworkName(clusterID, n)
	if err := d.cli.NetworkRemove(ctx, name); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove task network %s: %w", name, err)
	}
	d.mu.Lock()
	delete(d.networks, n.ID)
	d.mu.Unlock()
	return nil
}

// TaskNetworks returns the swarm networks this engine has, by network ID.
func (d *Docker) TaskNetworks() map[string]types.TaskNetwork {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]types.TaskNetwork, len(d.networks))
	for id, n := range d.networks {
		out[id] = n.TaskNetwork
	}
	return out
}

// madeMeanwhile reports whether another node of the swarm on this engine
// has made the network meanwhile: the engine then refuses the name, or
// the subnet while the other create is still being committed, so the
// network may show up a moment later (looked for during a second).
func (d *Docker) madeMeanwhile(ctx context.Context, name string, n *types.Network) bool {
	for range 10 {
		if res, err := d.cli.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
			return sameIPAM(res, n)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// sameIPAM reports whether an engine network has n's subnet and gateway.
func sameIPAM(res network.Inspect, n *types.Network) bool {
	for _, c := range res.IPAM.Config {
		if c.Subnet == n.Subnet && c.Gateway == n.Gateway {
			return true
		}
	}
	return false
}

// Network returns the engine's network of the swarm's default network.
func (d *Docker) Network() types.TaskNetwork {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.network
}

// SetDNS says whether new task containers use the name server on their
// first network's gateway (else the engine's default).
func (d *Docker) SetDNS(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dns = on
}

// RemoveNetwork deletes the swarm's networks on this engine that no
// container uses (another node of the same swarm on this host may still).
func (d *Docker) RemoveNetwork(ctx context.Context, clusterID string) {
	for _, n := range d.swarmNetworks(ctx, clusterID) {
		_ = d.cli.NetworkRemove(ctx, n.ID)
	}
}

// SwarmBridges names the bridges of the engine's networks of a swarm.
func (d *Docker) SwarmBridges(ctx context.Context, clusterID string) []string {
	var out []string
	for _, n := range d.swarmNetworks(ctx, clusterID) {
		if b := n.Options["com.docker.network.bridge.name"]; b != "" {
			out = append(out, b)
		}
	}
	return out
}

// ForeignSubnets lists the subnets of the engine's networks that are not
// swarm clusterID's own (the default bridge, other programs' networks, a
// network another swarm left behind): a swarm network there would make the
// engine refuse it with "Pool overlaps". Nil if the engine cannot say.
func (d *Docker) ForeignSubnets(ctx context.Context, clusterID string) []string {
	ns, err := d.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range ns {
		if n.Labels[types.LabelCluster] == clusterID {
			continue
		}
		for _, c := range n.IPAM.Config {
			if c.Subnet != "" {
				out = append(out, c.Subnet)
			}
		}
	}
	return out
}

// swarmNetworks lists the engine's networks of a swarm (by their label).
func (d *Docker) swarmNetworks(ctx context.Context, clusterID string) []network.Summary {
	ns, err := d.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", types.LabelCluster+"="+clusterID))})
	if err != nil {
		return nil
	}
	return ns
}

// recreateNetworks makes the task's networks again after someone removed
// them from the engine; false if there is none to make.
func (d *Docker) recreateNetworks(ctx context.Context, t *types.Task) bool {
	d.mu.Lock()
	id := d.clusterID
	var specs []types.Network
	for _, a := range t.Networks {
		if n, ok := d.networks[a.NetworkID]; ok {
			specs = append(specs, n.spec)
		}
	}
	d.mu.Unlock()
	if id == "" || len(specs) == 0 {
		return false
	}
	for i := range specs {
		if _, err := d.EnsureNetwork(ctx, id, &specs[i]); err != nil {
			return false
		}
	}
	return true
}

// endpoint is one network a new task container joins.
type endpoint struct {
	name     string
	gateway  string
	settings *network.EndpointSettings
}

// taskEndpoints returns the engine networks a new task joins, in the
// task's order, each with the task's address and the MAC every other
// host's overlay expects for it; a task with no network joins the
// default one with an address of the engine's choosing. dns says whether
// it uses the name server on its first network's gateway.
func (d *Docker) taskEndpoints(t *types.Task, modern bool) (eps []endpoint, dns bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(t.Networks) == 0 {
		if d.network.Name == "" {
			return nil, d.dns, nil
		}
		return []endpoint{{name: d.network.Name, gateway: d.network.Gateway}}, d.dns, nil
	}
	for _, a := range t.Networks {
		n, ok := d.networks[a.NetworkID]
		if !ok {
			return nil, false, fmt.Errorf("network %s is not on this host yet", a.NetworkID)
		}
		ep := &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: a.Addr}}
		if modern {
			ep.MacAddress = MACFor(a.Addr)
		}
		eps = append(eps, endpoint{name: n.Name, gateway: n.Gateway, settings: ep})
	}
	return eps, d.dns, nil
}
