// Package hooks defines what a plugin can be to the daemon: small
// capability interfaces, each optional, that the daemon checks for and
// calls. The daemon never imports a concrete plugin; main hands it the
// ordered list the plugins package builds.
package hooks

import (
	"context"
	"log/slog"
	"math"

	"sw/cluster/store"
	"sw/cluster/types"
)

// Plugin is the base every plugin implements.
type Plugin interface {
	// Name is the plugin's short name, e.g. "ingress".
	Name() string
	// Description is one line for `sw plugin ls`.
	Description() string
}

// Host is what the daemon offers a running plugin.
type Host interface {
	NodeID() string
	Store() *store.Store
	Logger() *slog.Logger
	// IngressAddr is the address published ports listen on ("" = all).
	IngressAddr() string
	// TaskNetwork is the engine's network of the swarm's default network
	// (the routing mesh's), on this node.
	TaskNetwork() types.TaskNetwork
	// TaskNetworks are the engine's networks of every swarm network this
	// node has, by network ID.
	TaskNetworks() map[string]types.TaskNetwork
	// SetTaskDNS says whether task containers made from now on use the
	// name server on their first network's gateway (else the engine's
	// default).
	SetTaskDNS(on bool)
	// Applied records that the plugin's loop named loop, one that sends
	// connections to tasks, has programmed this node's state up to index
	// (ReadTx.Index); a loop that stops records LoopStopped. Before it
	// stops a task that was serving, the node's agent waits until every
	// such loop applied the commit that took the task out of service.
	Applied(loop string, index uint64)
}

// LoopStopped is the index a loop that no longer runs records
// (Host.Applied): it holds no wait back.
const LoopStopped = math.MaxUint64

// NodeRunner runs on every node while it is in a swarm; it stops when ctx
// ends. An error return is logged with the plugin's name.
type NodeRunner interface {
	RunNode(ctx context.Context, host Host) error
}

// ServiceValidator checks a service spec before it is created or updated
// (old is nil on create). The error is shown to the user.
type ServiceValidator interface {
	ValidateService(view *store.ReadTx, spec *types.ServiceSpec, old *types.Service) error
}

// DefaultDisabled is a plugin that a new swarm leaves off unless asked.
type DefaultDisabled interface {
	DefaultDisabled() bool
}

// SpecClaimer is a plugin that owns part of a service spec (the ingress
// plugin owns published ports): while it is disabled, a spec that uses
// that part is refused with "plugin NAME is disabled".
type SpecClaimer interface {
	Claims(spec *types.ServiceSpec) (feature string, claimed bool)
}

// EnabledByDefault reports whether a new swarm turns p on.
func EnabledByDefault(p Plugin) bool {
	d, ok := p.(DefaultDisabled)
	return !ok || !d.DefaultDisabled()
}

// Enabled reports whether p is on in a swarm whose switches are set:
// a plugin the swarm never set (added by a newer sw) takes its default.
func Enabled(p Plugin, set map[string]bool) bool {
	if on, ok := set[p.Name()]; ok {
		return on
	}
	return EnabledByDefault(p)
}

// ServiceMutator completes a service spec before it is validated and
// stored (old is nil on create), e.g. by picking a published port.
type ServiceMutator interface {
	MutateService(view *store.ReadTx, spec *types.ServiceSpec, old *types.Service) error
}

// The watcher hooks below are called from committed state, by comparing
// one state of the store with the next: changes committed between two
// looks arrive together (a service created and removed at once may never
// be reported), as with any level-triggered watch.

// NodeWatcher hears of nodes joining and leaving the swarm (a node that
// goes down counts as leaving; one that comes back, as joining).
type NodeWatcher interface {
	NodeJoined(ctx context.Context, n *types.Node)
	NodeLeft(ctx context.Context, n *types.Node)
}

// LeaderWatcher hears when this manager gains or loses the leadership.
type LeaderWatcher interface {
	LeaderElected(ctx context.Context)
	LeaderRevoked(ctx context.Context)
}

// ServiceWatcher hears of committed service changes.
type ServiceWatcher interface {
	ServiceCreated(ctx context.Context, s *types.Service)
	ServiceUpdated(ctx context.Context, old, s *types.Service)
	ServiceRemoved(ctx context.Context, s *types.Service)
}

// TaskWatcher hears, on the node that runs it, of a task starting
// (reaching RUNNING) and stopping (reaching a terminal state).
type TaskWatcher interface {
	TaskStarted(ctx context.Context, t *types.Task)
	TaskStopped(ctx context.Context, t *types.Task)
}

// NodeFilter is a plugin that limits the nodes a task may run on (the
// labels plugin's placement constraints). The scheduler asks it once per
// group of tasks that share a placement, never per node, so it can
// compile the placement first; the orchestrator asks it for global
// services and to move tasks off nodes that no longer qualify. Both ask
// every NodeFilter plugin, enabled or not: switching a plugin off never
// moves tasks.
type NodeFilter interface {
	// NodeCheck returns the test a node must pass to take tasks with
	// placement p (nil: every node passes), and what a task says while
	// no node does, e.g. "scheduling constraints not satisfied".
	NodeCheck(p types.Placement) (check func(*types.Node) bool, explain string)
}

// NodeClaimer is a plugin that owns part of a node update (the labels
// plugin owns node labels): while it is disabled, an update that uses
// that part is refused with "plugin NAME is disabled".
type NodeClaimer interface {
	ClaimsNodeUpdate(u *store.NodeUpdate) (feature string, claimed bool)
}

// Locker is a plugin that locks managers at rest while the swarm has it
// enabled (autolock): it owns the swarm's unlock key (Cluster.UnlockKey),
// which the daemon asks it to keep in step with its switch on every write
// of the cluster object (`swarm init`, `plugin enable|disable`, `swarm
// update`). The daemon does the rest in core (cluster/keyfile): every
// manager keeps its key file — TLS key and Raft data key — sealed with a
// key derived from the unlock key while there is one, and unsealed while
// there is none; a restarted manager whose file is sealed stays locked
// until `sw swarm unlock` gives the key, which a build without the plugin
// can still take. Without a Locker built in, the cluster never holds an
// unlock key.
type Locker interface {
	Plugin
	// KeepUnlockKey completes a cluster object about to be written: an
	// unlock key while the plugin is on (a new one if it was just turned
	// on), none while off.
	KeepUnlockKey(c *types.Cluster) error
	// RotateUnlockKey gives c a new unlock key; refused (the error is
	// shown to the user) while the plugin is off.
	RotateUnlockKey(c *types.Cluster) error
	// ShowUnlockKey returns c's unlock key formatted for people
	// (SWMKEY-1-…); refused while the plugin is off or no key is set.
	ShowUnlockKey(c *types.Cluster) (string, error)
}
