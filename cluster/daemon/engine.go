package daemon

import (
	"context"

	"sw/cluster/agent"
	"sw/cluster/executor"
	"sw/cluster/netplane"
	"sw/cluster/types"
)

// Engine is the container engine a node drives: the agent's executor,
// the network plane's engine, and what the daemon itself asks of it.
// executor.Docker is the real one; tests inject a fake (Config.Engine).
type Engine interface {
	agent.Executor
	netplane.Engine
	// EngineVersion and EngineID name the engine (docker info's
	// ServerVersion and ID).
	EngineVersion(ctx context.Context) (string, error)
	EngineID(ctx context.Context) (string, error)
	// EngineResources are the engine's CPUs and memory (docker info's
	// NCPU and MemTotal), the node's room for reservations.
	EngineResources(ctx context.Context) (types.Resources, error)
	// SetNodeID makes List see this node's task containers only.
	SetNodeID(id string)
	// SwarmBridges names the host bridges of a swarm's networks;
	// RemoveNetwork removes those networks no container uses.
	SwarmBridges(ctx context.Context, clusterID string) []string
	// ForeignSubnets lists the subnets of the engine's other networks,
	// which the swarm's must not overlap.
	ForeignSubnets(ctx context.Context, clusterID string) []string
	RemoveNetwork(ctx context.Context, clusterID string)
	// Network is the default network's attachment for plugins; TaskNetworks
	// every network's, by network ID; SetDNS points tasks' resolvers at
	// the node's DNS server (or not).
	Network() types.TaskNetwork
	TaskNetworks() map[string]types.TaskNetwork
	SetDNS(on bool)
}

var _ Engine = (*executor.Docker)(nil)
