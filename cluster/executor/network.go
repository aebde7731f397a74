package executor

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/errdefs"

	"sw/cluster/types"
)

// EnsureNetwork makes the swarm's task network exist on this engine (a
// bridge network made once per swarm and host, shared by the nodes of that
// swarm running there) and makes new task containers join it.
func (d *Docker) EnsureNetwork(ctx context.Context, clusterID string) (types.TaskNetwork, error) {
	name, bridge := types.TaskNetworkNames(clusterID)
	n, err := d.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if errdefs.IsNotFound(err) {
		_, err = d.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge",
			Options: map[string]string{"com.docker.network.bridge.name": bridge},
			Labels:  map[string]string{types.LabelCluster: clusterID}})
		if err != nil && !errdefs.IsConflict(err) {
			return types.TaskNetwork{}, fmt.Errorf("create task network %s: %w", name, err)
		}
		n, err = d.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	}
	if err != nil {
		return types.TaskNetwork{}, fmt.Errorf("inspect task network %s: %w", name, err)
	}
	out := types.TaskNetwork{Name: name, Bridge: bridge}
	if b := n.Options["com.docker.network.bridge.name"]; b != "" {
		out.Bridge = b
	}
	for _, c := range n.IPAM.Config {
		if out.Subnet == "" && c.Gateway != "" {
			out.Subnet, out.Gateway = c.Subnet, c.Gateway
		}
	}
	if out.Gateway == "" {
		return types.TaskNetwork{}, fmt.Errorf("task network %s has no IPv4 gateway", name)
	}
	d.mu.Lock()
	d.network, d.clusterID = out, clusterID
	d.mu.Unlock()
	return out, nil
}

// Network returns the task network EnsureNetwork last found.
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
	id := d.clusterID
	d.mu.Unlock()
	if id == "" {
		return false
	}
	_, err := d.EnsureNetwork(ctx, id)
	return err == nil
}

// hostNetworking returns the network mode and DNS servers for a new task.
func (d *Docker) hostNetworking() (string, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.network.Name, append([]string(nil), d.dns...)
}
