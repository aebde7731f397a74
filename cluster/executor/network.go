package executor

import (
	"context"
	"fmt"
	"strconv"

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
		if err != nil && !errdefs.IsConflict(err) {
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
	d.network, d.clusterID, d.netSpec = out, clusterID, *n
	d.mu.Unlock()
	return out, nil
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

// Network returns the task network EnsureNetwork last made.
func (d *Docker) Network() types.TaskNetwork {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.network
}

// SetDNS sets the name servers new task containers use; nil leaves them
// to the engine's default.
func (d *Docker) SetDNS(servers []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dns = append([]string(nil), servers...)
}

// RemoveNetwork deletes the swarm's task network if no container uses it
// (another node of the same swarm on this host may still).
func (d *Docker) RemoveNetwork(ctx context.Context, clusterID string) {
	name, _ := types.TaskNetworkNames(clusterID)
	_ = d.cli.NetworkRemove(ctx, name)
}

// recreateNetwork makes the task network again after someone removed it
// from the engine; false if there is none to make.
func (d *Docker) recreateNetwork(ctx context.Context) bool {
	d.mu.Lock()
	id, n := d.clusterID, d.netSpec
	d.mu.Unlock()
	if id == "" {
		return false
	}
	_, err := d.EnsureNetwork(ctx, id, &n)
	return err == nil
}

// hostNetworking returns the network mode and DNS servers for a new task.
func (d *Docker) hostNetworking() (types.TaskNetwork, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.network, append([]string(nil), d.dns...)
}
