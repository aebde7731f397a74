package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sw/cluster/types"
)

// Command is one entry of the Raft log: a batch of changes applied
// atomically, all or nothing, at the leader's proposal time.
type Command struct {
	Time time.Time `json:"Time"`
	// RequestID, when set, makes the command apply at most once: the same
	// ID applied again (a write re-sent after a leader change, when the
	// first copy may have committed) is answered with the first result.
	RequestID string   `json:"RequestID,omitempty"`
	Changes   []Change `json:"Changes"`
}

// Change is one mutation; exactly one field is set (the stored format
// leaves the others out: codec's omitempty).
type Change struct {
	PutCluster *types.Cluster `json:",omitempty" codec:",omitempty"`
	PutNode    *types.Node    `json:",omitempty" codec:",omitempty"`
	DeleteNode string         `json:",omitempty" codec:",omitempty"`
	// NodeState records a node's observed health (leader's membership loop).
	NodeState *NodeStateFrom `json:",omitempty" codec:",omitempty"`
	// UpdateNode changes what an operator sets on a node.
	UpdateNode    *NodeUpdate    `json:",omitempty" codec:",omitempty"`
	CreateService *types.Service `json:",omitempty" codec:",omitempty"`
	// UpdateService replaces a service's spec; it fails with ErrConflict
	// unless the stored Version equals the given one. The caller sets
	// SpecVersion above the stored one when the change calls for new
	// tasks; the store then gives the spec a version no spec had before
	// and starts a rollout (UpdateStatus updating). A change that calls for
	// no new tasks resumes a paused rollout.
	UpdateService *types.Service `json:",omitempty" codec:",omitempty"`
	// RollbackService puts a service's previous spec back (a user's
	// rollback, or a rollout's failure action).
	RollbackService *ServiceRollback `json:",omitempty" codec:",omitempty"`
	// UpdateStatus records where a service's rollout stands (the
	// orchestrator's); it is dropped unless the service still has the
	// spec version the rollout is about.
	UpdateStatus  *ServiceUpdateStatus `json:",omitempty" codec:",omitempty"`
	DeleteService string               `json:",omitempty" codec:",omitempty"`
	// ServiceProblem records why the orchestrator does not reconcile a
	// service (an empty message clears it); the spec is left alone.
	ServiceProblem *ServiceProblem  `json:",omitempty" codec:",omitempty"`
	CreateTask     *types.Task      `json:",omitempty" codec:",omitempty"`
	TaskStatus     *TaskStatusFrom  `json:",omitempty" codec:",omitempty"`
	TaskDesired    *TaskDesiredFrom `json:",omitempty" codec:",omitempty"`
	AssignTask     *TaskAssignment  `json:",omitempty" codec:",omitempty"`
	DeleteTask     string           `json:",omitempty" codec:",omitempty"`
	// CreateNetwork adds a network (allocated by the allocator, or to be).
	CreateNetwork *types.Network `json:",omitempty" codec:",omitempty"`
	// DeleteNetwork removes a network no service uses (ErrInUse).
	DeleteNetwork string `json:",omitempty" codec:",omitempty"`
	// Allocate records addresses the leader's allocator gave.
	Allocate *NetworkAllocation `json:",omitempty" codec:",omitempty"`
}

// NodeStateFrom sets a node's observed state; it is dropped for a node that
// is gone.
type NodeStateFrom struct {
	NodeID  string          `json:"NodeID"`
	State   types.NodeState `json:"State"`
	Message string          `json:"Message,omitempty"`
}

// NodeUpdate changes a node's role, availability, labels or manager
// address (nil or empty: keep).
type NodeUpdate struct {
	NodeID       string              `json:"NodeID"`
	Role         *types.NodeRole     `json:"Role,omitempty"`
	Availability *types.Availability `json:"Availability,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	SetLabels    bool                `json:"SetLabels,omitempty"`
	// ManagerAddr, if set, is where a manager now listens (kept only
	// while the node is a manager).
	ManagerAddr string `json:"ManagerAddr,omitempty"`
}

// ServiceProblem is the orchestrator's report on a service it cannot
// reconcile; it is dropped for a service that is gone.
type ServiceProblem struct {
	ServiceID string `json:"ServiceID"`
	Message   string `json:"Message,omitempty"`
}

// ServiceRollback puts a service's PreviousSpec back, with its spec
// version (tasks still running it are kept), and starts a rollback
// rollout. A user's (Version set) fails with ErrConflict unless the
// stored Version equals it; the orchestrator's (FromSpecVersion set) is
// dropped unless the service still has that spec version. Both fail with
// ErrNoPrevious when there is nothing to go back to.
type ServiceRollback struct {
	ServiceID       string `json:"ServiceID"`
	Version         uint64 `json:"Version,omitempty"`
	FromSpecVersion uint64 `json:"FromSpecVersion,omitempty"`
	// Message says why (UpdateStatus.Message).
	Message string `json:"Message"`
}

// ServiceUpdateStatus sets the rollout status of a service whose spec
// version is SpecVersion.
type ServiceUpdateStatus struct {
	ServiceID   string             `json:"ServiceID"`
	SpecVersion uint64             `json:"SpecVersion"`
	Status      types.UpdateStatus `json:"Status"`
}

// TaskStatusFrom reports a task's observed status from the node running it.
// It is dropped unless the state moves forward (types.TaskState.CanMoveTo)
// and the reporting node still owns the task.
type TaskStatusFrom struct {
	TaskID string           `json:"TaskID"`
	NodeID string           `json:"NodeID"`
	Status types.TaskStatus `json:"Status"`
}

// TaskDesiredFrom moves a task's desired state forward.
type TaskDesiredFrom struct {
	TaskID string          `json:"TaskID"`
	State  types.TaskState `json:"State"`
}

// TaskAssignment places a task on a node (NodeID set) or records why it
// cannot be placed yet (NodeID empty, Status PENDING with a message). It is
// dropped if the task is already placed or no longer desired RUNNING.
type TaskAssignment struct {
	TaskID string           `json:"TaskID"`
	NodeID string           `json:"NodeID,omitempty"`
	Status types.TaskStatus `json:"Status"`
}

// Errors a command can fail with.
var (
	ErrConflict   = errors.New("the object was changed concurrently; retry")
	ErrNameInUse  = errors.New("name in use")
	ErrNotFound   = errors.New("not found")
	ErrBadCommand = errors.New("malformed command")
	ErrExists     = errors.New("already exists")
	// ErrAddrInUse: a service's virtual IP or published port is another's.
	ErrAddrInUse = errors.New("address in use")
	// ErrInUse: the object is used by others and cannot go.
	ErrInUse = errors.New("in use")
	// ErrNoPrevious: a rollback of a service that has no previous spec.
	ErrNoPrevious  = errors.New("no previous spec")
	errEmptyChange = errors.New("empty change")
)

// Encode serialises a command for the Raft log, in the stored format
// (see FormatVersion).
func (c *Command) Encode() ([]byte, error) { return encodeStored(c) }

// DecodeCommand reads a command from a Raft log entry, in any format this
// release knows (format 0's JSON too). It is lenient on purpose: a field
// it does not know (written by another version of sw) is skipped, so that
// every entry of the log stays readable. Errors match ErrBadCommand.
func DecodeCommand(b []byte) (*Command, error) {
	var c Command
	if err := decodeStored(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	return &c, nil
}

// Bounds of the commands the leader's loops propose: a plan of more goes
// as several, so no log entry grows with the size of the swarm.
const (
	// MaxBatch is the most changes in one command.
	MaxBatch = 1000
	// MaxBatchBytes is about the most one command's changes take encoded
	// (a single change larger than that goes alone).
	MaxBatchBytes = 4 << 20
)

// Batches cuts changes into commands of at most MaxBatch changes and
// about MaxBatchBytes each, in order.
func Batches(changes []Change) []*Command {
	groups := make([][]Change, len(changes))
	for i := range changes {
		groups[i] = changes[i : i+1 : i+1]
	}
	return BatchGroups(groups)
}

// BatchGroups packs groups of changes into commands of at most MaxBatch
// changes and about MaxBatchBytes each, in order, never splitting a
// group: a group's changes must commit together. A group over the bounds
// goes alone.
func BatchGroups(groups [][]Change) []*Command {
	var out []*Command
	var cur []Change
	size := 0
	for _, g := range groups {
		gs := 0
		for i := range g {
			gs += encodedSize(&g[i])
		}
		if len(cur) > 0 && (len(cur)+len(g) > MaxBatch || size+gs > MaxBatchBytes) {
			out = append(out, &Command{Changes: cur})
			cur, size = nil, 0
		}
		cur = append(cur, g...)
		size += gs
	}
	if len(cur) > 0 {
		out = append(out, &Command{Changes: cur})
	}
	return out
}

// encodedSize is a change's size in the log.
func encodedSize(c *Change) int {
	b, err := encodeStored(c)
	if err != nil {
		return 0
	}
	return len(b)
}

// ProposeAll proposes the changes in batches (Batches), one after the
// other, stopping at the first failure.
func ProposeAll(ctx context.Context, p Proposer, changes []Change) error {
	return proposeEach(ctx, p, Batches(changes))
}

// ProposeGroups proposes groups of changes in batches (BatchGroups), one
// after the other, stopping at the first failure.
func ProposeGroups(ctx context.Context, p Proposer, groups [][]Change) error {
	return proposeEach(ctx, p, BatchGroups(groups))
}

func proposeEach(ctx context.Context, p Proposer, cmds []*Command) error {
	for _, cmd := range cmds {
		if err := p.Propose(ctx, cmd); err != nil {
			return err
		}
	}
	return nil
}

// Proposer commits commands: through Raft in a daemon, directly in tests.
// Propose returns once the command is applied, with its result.
type Proposer interface {
	Propose(ctx context.Context, cmd *Command) error
}
