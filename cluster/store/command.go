package store

import (
	"context"
	"encoding/json"
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

// Change is one mutation; exactly one field is set.
type Change struct {
	PutCluster *types.Cluster `json:",omitempty"`
	PutNode    *types.Node    `json:",omitempty"`
	DeleteNode string         `json:",omitempty"`
	// NodeState records a node's observed health (leader's membership loop).
	NodeState *NodeStateFrom `json:",omitempty"`
	// UpdateNode changes what an operator sets on a node.
	UpdateNode    *NodeUpdate    `json:",omitempty"`
	CreateService *types.Service `json:",omitempty"`
	// UpdateService replaces a service's spec; it fails with ErrConflict
	// unless the stored Version equals the given one. The caller bumps
	// SpecVersion when the change calls for new tasks; it never goes down.
	UpdateService *types.Service `json:",omitempty"`
	DeleteService string         `json:",omitempty"`
	// ServiceProblem records why the orchestrator does not reconcile a
	// service (an empty message clears it); the spec is left alone.
	ServiceProblem *ServiceProblem  `json:",omitempty"`
	CreateTask     *types.Task      `json:",omitempty"`
	TaskStatus     *TaskStatusFrom  `json:",omitempty"`
	TaskDesired    *TaskDesiredFrom `json:",omitempty"`
	AssignTask     *TaskAssignment  `json:",omitempty"`
	DeleteTask     string           `json:",omitempty"`
}

// NodeStateFrom sets a node's observed state; it is dropped for a node that
// is gone.
type NodeStateFrom struct {
	NodeID  string          `json:"NodeID"`
	State   types.NodeState `json:"State"`
	Message string          `json:"Message,omitempty"`
}

// NodeUpdate changes a node's role, availability or labels (nil: keep).
type NodeUpdate struct {
	NodeID       string              `json:"NodeID"`
	Role         *types.NodeRole     `json:"Role,omitempty"`
	Availability *types.Availability `json:"Availability,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	SetLabels    bool                `json:"SetLabels,omitempty"`
}

// ServiceProblem is the orchestrator's report on a service it cannot
// reconcile; it is dropped for a service that is gone.
type ServiceProblem struct {
	ServiceID string `json:"ServiceID"`
	Message   string `json:"Message,omitempty"`
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
	ErrAddrInUse   = errors.New("address in use")
	errEmptyChange = errors.New("empty change")
)

// Encode serialises a command for the Raft log.
func (c *Command) Encode() ([]byte, error) { return json.Marshal(c) }

// DecodeCommand reads a command from a Raft log entry. It is lenient on
// purpose: a field it does not know (written by another version of sw) is
// skipped, so that every entry of the log stays readable. Errors match
// ErrBadCommand.
func DecodeCommand(b []byte) (*Command, error) {
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	return &c, nil
}

// MaxBatch is the most changes a leader loop puts in one command: a plan
// of more is proposed as several, so no log entry grows with the size of
// the swarm.
const MaxBatch = 1000

// Batches cuts changes into commands of at most MaxBatch changes each, in
// order.
func Batches(changes []Change) []*Command {
	var out []*Command
	for len(changes) > 0 {
		n := min(len(changes), MaxBatch)
		out = append(out, &Command{Changes: changes[:n:n]})
		changes = changes[n:]
	}
	return out
}

// ProposeAll proposes the changes in batches (Batches), one after the
// other, stopping at the first failure.
func ProposeAll(ctx context.Context, p Proposer, changes []Change) error {
	for _, cmd := range Batches(changes) {
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
