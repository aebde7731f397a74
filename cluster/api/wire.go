// Package api is the daemon's HTTP/JSON interface on its unix socket, and
// the Go client the CLI uses. Reads are served from the local store; writes
// go through the Backend (the daemon), which proposes them through Raft.
package api

import (
	"fmt"
	"time"

	"sw/cluster/types"
)

// Swarm states, as `sw info` prints them.
const (
	SwarmInactive = "inactive"
	SwarmActive   = "active"
	SwarmLocked   = "locked"
)

// Info is `sw info`.
type Info struct {
	Swarm         string   `json:"Swarm"`
	NodeID        string   `json:"NodeID,omitempty"`
	ClusterID     string   `json:"ClusterID,omitempty"`
	IsManager     bool     `json:"IsManager"`
	LeaderID      string   `json:"LeaderID,omitempty"`
	Managers      int      `json:"Managers"`
	Nodes         int      `json:"Nodes"`
	NodeAddr      string   `json:"NodeAddr,omitempty"`
	ManagerAddrs  []string `json:"ManagerAddrs,omitempty"`
	Hostname      string   `json:"Hostname"`
	EngineVersion string   `json:"EngineVersion"`
	DataDir       string   `json:"DataDir"`
	Version       string   `json:"Version"`
	Plugins       []string `json:"Plugins,omitempty"`
	// TaskHistoryLimit is the swarm's task history retention limit (on a
	// manager).
	TaskHistoryLimit int `json:"TaskHistoryRetentionLimit,omitempty"`
}

// InitRequest is `sw swarm init`.
type InitRequest struct {
	AdvertiseAddr   string        `json:"AdvertiseAddr,omitempty"`
	ListenAddr      string        `json:"ListenAddr,omitempty"`
	ForceNewCluster bool          `json:"ForceNewCluster,omitempty"`
	CertExpiry      time.Duration `json:"CertExpiry,omitempty"`
	CACertPEM       []byte        `json:"CACert,omitempty"`
	CAKeyPEM        []byte        `json:"CAKey,omitempty"`
	// Plugins and NoPlugins turn plugins on or off from their defaults.
	Plugins   []string `json:"Plugins,omitempty"`
	NoPlugins []string `json:"NoPlugins,omitempty"`
	// DefaultAddrPool and SubnetSize set where network subnets come from
	// (Docker's 10.0.0.0/8 in /24s when empty); DataPathPort the VXLAN
	// port (4789); DataPathAddr this node's overlay address.
	DefaultAddrPool []string `json:"DefaultAddrPool,omitempty"`
	SubnetSize      int      `json:"SubnetSize,omitempty"`
	DataPathPort    uint32   `json:"DataPathPort,omitempty"`
	DataPathAddr    string   `json:"DataPathAddr,omitempty"`
	// TaskHistoryLimit is how many tasks each slot keeps (0: Docker's 5).
	TaskHistoryLimit int `json:"TaskHistoryRetentionLimit,omitempty"`
}

// InitResponse names the new node and cluster.
type InitResponse struct {
	NodeID        string `json:"NodeID"`
	ClusterID     string `json:"ClusterID"`
	AdvertiseAddr string `json:"AdvertiseAddr"`
	WorkerToken   string `json:"WorkerToken,omitempty"`
}

// JoinRequest is `sw swarm join`.
type JoinRequest struct {
	RemoteAddr    string `json:"RemoteAddr"`
	Token         string `json:"Token"`
	AdvertiseAddr string `json:"AdvertiseAddr,omitempty"`
	ListenAddr    string `json:"ListenAddr,omitempty"`
	DataPathAddr  string `json:"DataPathAddr,omitempty"`
}

// JoinResponse says what the node became.
type JoinResponse struct {
	NodeID string `json:"NodeID"`
	Role   string `json:"Role"`
}

// Swarm is `sw swarm inspect`: the cluster without its secrets, and the
// join tokens for managers to hand out.
type Swarm struct {
	ID         string           `json:"ID"`
	CreatedAt  time.Time        `json:"CreatedAt"`
	CertExpiry time.Duration    `json:"CertExpiry"`
	JoinTokens types.JoinTokens `json:"JoinTokens"`
	CACert     string           `json:"CACert"`
	// TaskHistoryLimit is how many tasks each slot keeps (Docker's
	// Spec.Orchestration.TaskHistoryRetentionLimit).
	TaskHistoryLimit int `json:"TaskHistoryRetentionLimit"`
	// ManagerAddr is the address of the manager that answered.
	ManagerAddr string `json:"ManagerAddr"`
}

// SwarmUpdateRequest is `sw swarm update` and token rotation.
type SwarmUpdateRequest struct {
	CertExpiry    time.Duration `json:"CertExpiry,omitempty"`
	RotateWorker  bool          `json:"RotateWorkerToken,omitempty"`
	RotateManager bool          `json:"RotateManagerToken,omitempty"`
	// RotateUnlockKey replaces the autolock unlock key.
	RotateUnlockKey bool `json:"RotateManagerUnlockKey,omitempty"`
	// TaskHistoryLimit, if set, is how many tasks each slot keeps.
	TaskHistoryLimit int `json:"TaskHistoryRetentionLimit,omitempty"`
}

// MaxTaskHistoryLimit bounds the tasks a slot keeps: history is kept in
// Raft, and every slot of every service pays for it.
const MaxTaskHistoryLimit = 100

// CheckTaskHistoryLimit refuses a retention limit out of 1..MaxTaskHistoryLimit.
func CheckTaskHistoryLimit(n int) error {
	if n < 1 || n > MaxTaskHistoryLimit {
		return fmt.Errorf("invalid task history limit %d: want 1 to %d (a slot's current task counts as one)", n, MaxTaskHistoryLimit)
	}
	return nil
}

// LeaveRequest is `sw swarm leave`.
type LeaveRequest struct {
	Force bool `json:"Force"`
}

// CreateResponse names a created object.
type CreateResponse struct {
	ID string `json:"ID"`
}

// UpdateServiceRequest replaces a service's spec if its version is still
// the one the client read. The spec is read strictly, as every request.
type UpdateServiceRequest struct {
	Version uint64           `json:"Version"`
	Spec    types.StrictSpec `json:"Spec"`
}

// RollbackServiceRequest puts a service's previous spec back if its
// version is still the one the client read (Docker's update with
// rollback=previous).
type RollbackServiceRequest struct {
	Version uint64 `json:"Version"`
}

// ErrorResponse is the body of every failed request.
type ErrorResponse struct {
	Message string `json:"message"`
}

// Header carrying the store index a read reflects.
const HeaderIndex = "X-Sw-Index"

// NodeUpdateRequest is `sw node update|promote|demote` (empty: keep).
type NodeUpdateRequest struct {
	Availability string `json:"Availability,omitempty"`
	Role         string `json:"Role,omitempty"`
	// LabelAdd adds or replaces node labels, LabelRm removes them (the
	// labels plugin's --label-add/--label-rm); removals come first.
	LabelAdd map[string]string `json:"LabelAdd,omitempty"`
	LabelRm  []string          `json:"LabelRm,omitempty"`
}

// Empty reports whether the request changes nothing.
func (r NodeUpdateRequest) Empty() bool {
	return r.Availability == "" && r.Role == "" && len(r.LabelAdd) == 0 && len(r.LabelRm) == 0
}

// NodeUpdateResponse may carry advice for the operator.
type NodeUpdateResponse struct {
	Warning string `json:"Warning,omitempty"`
}

// Plugin is one line of `sw plugin ls`.
type Plugin struct {
	Name        string `json:"Name"`
	Enabled     bool   `json:"Enabled"`
	Description string `json:"Description"`
}

// ServiceStatus is a service's task counts, as Docker's API gives them
// with `GET /services?status=true`: what `service ls` shows as REPLICAS,
// counted by the manager so the CLI need not fetch every task.
type ServiceStatus struct {
	ServiceID string `json:"ServiceID"`
	// RunningTasks are its tasks meant to run and running.
	RunningTasks uint64 `json:"RunningTasks"`
	// DesiredTasks: its replicas; for a global service, its tasks meant
	// to run; for a replicated job, the tasks it runs now at most (its
	// concurrency, or what is left to complete if fewer).
	DesiredTasks uint64 `json:"DesiredTasks"`
	// CompletedTasks are a job's tasks of its current spec that completed.
	CompletedTasks uint64 `json:"CompletedTasks"`
}

// CountTasks is service s's ServiceStatus from its tasks.
func CountTasks(s *types.Service, tasks []*types.Task) ServiceStatus {
	var c Counter
	for _, t := range tasks {
		c.Add(t)
	}
	return c.Status(s)
}

// Counter counts a service's tasks one at a time into its ServiceStatus.
type Counter struct {
	running, live uint64
	// completed counts completed tasks by spec version.
	completed map[uint64]uint64
}

// Add counts one task.
func (c *Counter) Add(t *types.Task) {
	if t.DesiredState == types.TaskRunning {
		c.live++
		if t.Status.State == types.TaskRunning {
			c.running++
		}
	}
	if t.Status.State == types.TaskComplete {
		if c.completed == nil {
			c.completed = map[uint64]uint64{}
		}
		c.completed[t.SpecVersion]++
	}
}

// Status is the count as service s's ServiceStatus.
func (c *Counter) Status(s *types.Service) ServiceStatus {
	out := ServiceStatus{ServiceID: s.ID, RunningTasks: c.running, DesiredTasks: s.Spec.Replicas}
	switch s.Spec.Mode {
	case types.ModeGlobal:
		out.DesiredTasks = c.live
	case types.ModeGlobalJob:
		out.DesiredTasks, out.CompletedTasks = c.live, c.completed[s.SpecVersion]
	case types.ModeReplicatedJob:
		out.CompletedTasks = c.completed[s.SpecVersion]
		left := s.Spec.Replicas - min(out.CompletedTasks, s.Spec.Replicas)
		out.DesiredTasks = min(s.Spec.MaxConcurrent, left)
	}
	return out
}
