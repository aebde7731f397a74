package types

import (
	"fmt"
	"strings"
	"time"
)

// Meta is carried by every stored object.
type Meta struct {
	// Version is the Raft index of the object's last change.
	Version   uint64    `json:"Version"`
	CreatedAt time.Time `json:"CreatedAt"`
	UpdatedAt time.Time `json:"UpdatedAt"`
}

// Cluster is the swarm itself; there is exactly one.
type Cluster struct {
	ID string `json:"ID"`
	Meta
	// TaskHistoryLimit is how many tasks per slot are kept (Docker: 5).
	TaskHistoryLimit int `json:"TaskHistoryRetentionLimit"`
	// CertExpiry is the life of node certificates (Docker: 90 days).
	CertExpiry time.Duration `json:"CertExpiry"`
	// RootCA is the cluster's CA; its key lives only in the managers' Raft.
	RootCA RootCA `json:"RootCA"`
	// JoinTokens admit new workers and managers.
	JoinTokens JoinTokens `json:"JoinTokens"`
	// GossipKey encrypts serf traffic; joining nodes receive it over TLS.
	GossipKey []byte `json:"GossipKey,omitempty"`
	// RemovedNodes are refused from then on, whatever certificate they show.
	RemovedNodes []string `json:"RemovedNodes,omitempty"`
	// Plugins records which plugins this swarm has switched on or off.
	Plugins map[string]bool `json:"Plugins,omitempty"`
	// UnlockKey, set while autolock is on (hooks.Locker), is the raw key
	// every manager seals its data key and TLS key with at rest.
	UnlockKey []byte `json:"UnlockKey,omitempty"`
	// DefaultAddrPool holds the CIDRs network subnets are cut from
	// (Docker: 10.0.0.0/8); empty means Docker's default.
	DefaultAddrPool []string `json:"DefaultAddrPool,omitempty"`
	// SubnetSize is the prefix length of those subnets (Docker: 24).
	SubnetSize int `json:"SubnetSize,omitempty"`
	// DataPathPort is the overlay's VXLAN UDP port (Docker: 4789).
	DataPathPort uint32 `json:"DataPathPort,omitempty"`
}

// AddrPools returns the default address pools, Docker's when unset.
func (c *Cluster) AddrPools() []string {
	if c == nil || len(c.DefaultAddrPool) == 0 {
		return []string{DefaultAddrPool}
	}
	return c.DefaultAddrPool
}

// SubnetBits returns the prefix length of network subnets.
func (c *Cluster) SubnetBits() int {
	if c == nil || c.SubnetSize == 0 {
		return DefaultSubnetSize
	}
	return c.SubnetSize
}

// VXLANPort returns the overlay's UDP port.
func (c *Cluster) VXLANPort() int {
	if c == nil || c.DataPathPort == 0 {
		return DefaultDataPathPort
	}
	return int(c.DataPathPort)
}

// RootCA is the cluster's certificate authority, PEM-encoded.
type RootCA struct {
	CertPEM []byte `json:"CACert"`
	KeyPEM  []byte `json:"CAKey,omitempty"`
}

// JoinTokens are the current tokens for each role.
type JoinTokens struct {
	Worker  string `json:"Worker"`
	Manager string `json:"Manager"`
}

// Removed reports whether a node ID was removed from the swarm.
func (c *Cluster) Removed(nodeID string) bool {
	for _, id := range c.RemovedNodes {
		if id == nodeID {
			return true
		}
	}
	return false
}

// DefaultTaskHistoryLimit is Docker's task history retention limit.
const DefaultTaskHistoryLimit = 5

// NodeRole is a node's part in the swarm.
type NodeRole string

// Node roles.
const (
	RoleManager NodeRole = "manager"
	RoleWorker  NodeRole = "worker"
)

// Availability says whether the scheduler may use a node.
type Availability string

// Node availabilities, as Docker's.
const (
	AvailabilityActive Availability = "active"
	AvailabilityPause  Availability = "pause"
	AvailabilityDrain  Availability = "drain"
)

// ParseAvailability checks an availability given by a user.
func ParseAvailability(s string) (Availability, error) {
	switch a := Availability(s); a {
	case AvailabilityActive, AvailabilityPause, AvailabilityDrain:
		return a, nil
	}
	return "", fmt.Errorf("invalid availability %q: want active, pause or drain", s)
}

// NodeState is a node's observed health.
type NodeState string

// Node states.
const (
	NodeUnknown NodeState = "unknown"
	NodeReady   NodeState = "ready"
	NodeDown    NodeState = "down"
)

// Node is one sw daemon taking part in the swarm.
type Node struct {
	ID string `json:"ID"`
	Meta
	Hostname      string            `json:"Hostname"`
	Role          NodeRole          `json:"Role"`
	Availability  Availability      `json:"Availability"`
	Labels        map[string]string `json:"Labels,omitempty"`
	State         NodeState         `json:"State"`
	StateMessage  string            `json:"StateMessage,omitempty"`
	Addr          string            `json:"Addr"`
	EngineVersion string            `json:"EngineVersion"`
	OS            string            `json:"OS"`
	Arch          string            `json:"Arch"`
	// ManagerAddr is the Raft/control address of a manager.
	ManagerAddr string `json:"ManagerAddr,omitempty"`
	// PeerAddr is the node's advertised control address (host:port),
	// whatever its role: where its peer listener answers (on a worker,
	// only the logs of its tasks, to managers). "" on records from before
	// it was kept: Addr and the default port then.
	PeerAddr string `json:"PeerAddr,omitempty"`
	// DataAddr is where the node's overlay traffic (VXLAN) arrives; "" =
	// Addr.
	DataAddr string `json:"DataAddr,omitempty"`
	// EngineID identifies the node's Docker engine: nodes that share one
	// (test swarms on one host) share its networks and need no overlay
	// between them.
	EngineID string `json:"EngineID,omitempty"`
	// Attachments are the node's own addresses on networks (allocated).
	Attachments []Attachment `json:"Attachments,omitempty"`
	// Description holds the resources the node's engine has.
	Description NodeDescription `json:"Description"`
	// Liveness says how the managers learn that the node is up: ""
	// (LivenessGossip) through the gossip pool, LivenessHeartbeat through
	// the heartbeats it sends the dispatcher (peer.PathHeartbeat).
	Liveness string `json:"Liveness,omitempty"`
}

// The ways a node shows it is up (Node.Liveness).
const (
	// LivenessGossip: the node is a member of the gossip pool, which finds
	// a dead one in about 2–3 s. Every sw daemon is.
	LivenessGossip = ""
	// LivenessHeartbeat: the node sends no gossip, only a heartbeat to a
	// manager every HeartbeatPeriod; it is Down once none has come for
	// HeartbeatTTL (swarmkit's dispatcher model: 5 s × 3 there). Nodes
	// that join through the peer API alone use it (the scale simulation's
	// workers).
	LivenessHeartbeat = "heartbeat"
)

// HeartbeatPeriod is how often a LivenessHeartbeat node sends its
// heartbeat; HeartbeatTTL how long the leader waits for one before it
// marks the node Down.
const (
	HeartbeatPeriod = 2 * time.Second
	HeartbeatTTL    = 3 * HeartbeatPeriod
)

// VTEP is the address the node's overlay traffic goes to.
func (n *Node) VTEP() string {
	if n.DataAddr != "" {
		return n.DataAddr
	}
	return n.Addr
}

// Schedulable reports whether new tasks may be placed on the node.
func (n *Node) Schedulable() bool {
	return n.State == NodeReady && n.Availability == AvailabilityActive
}

// Mode is how a service's tasks are counted.
type Mode string

// Service modes, as Docker's.
const (
	ModeReplicated Mode = "replicated"
	ModeGlobal     Mode = "global"
	// ModeReplicatedJob runs Replicas tasks to completion, at most
	// MaxConcurrent at a time; ModeGlobalJob one on every eligible node.
	ModeReplicatedJob Mode = "replicated-job"
	ModeGlobalJob     Mode = "global-job"
)

// Job reports whether the mode's tasks run to completion.
func (m Mode) Job() bool { return m == ModeReplicatedJob || m == ModeGlobalJob }

// PerNode reports whether the mode has a task per eligible node.
func (m Mode) PerNode() bool { return m == ModeGlobal || m == ModeGlobalJob }

// ParseMode checks a mode given by a user.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeReplicated, ModeGlobal, ModeReplicatedJob, ModeGlobalJob:
		return m, nil
	}
	return "", fmt.Errorf("invalid mode %q: want replicated, global, replicated-job or global-job", s)
}

// RestartCondition says when a stopped task is replaced.
type RestartCondition string

// Restart conditions, as Docker's.
const (
	RestartAny       RestartCondition = "any"
	RestartOnFailure RestartCondition = "on-failure"
	RestartNone      RestartCondition = "none"
)

// RestartPolicy governs the replacement of stopped tasks.
type RestartPolicy struct {
	Condition RestartCondition `json:"Condition"`
	Delay     time.Duration    `json:"Delay"`
	// MaxAttempts caps the restarts of a slot; 0 means no limit.
	MaxAttempts uint64 `json:"MaxAttempts"`
	// Window, if set, is the span MaxAttempts counts in (Docker's): a
	// slot restarts unless MaxAttempts of its tasks ended within the last
	// Window already. The count sees the slot's kept history only
	// (Cluster.TaskHistoryLimit tasks).
	Window time.Duration `json:"Window,omitempty"`
}

// Default restart policy values (Docker's).
const (
	DefaultRestartDelay    = 5 * time.Second
	DefaultStopGracePeriod = 10 * time.Second
)

// PortConfig publishes a task port on the routing mesh.
type PortConfig struct {
	Protocol      string `json:"Protocol"`
	TargetPort    uint16 `json:"TargetPort"`
	PublishedPort uint16 `json:"PublishedPort"`
	PublishMode   string `json:"PublishMode"`
}

// String renders the port as Docker's service ls does: "*:9000->8080/tcp".
func (p PortConfig) String() string {
	return fmt.Sprintf("*:%d->%d/%s", p.PublishedPort, p.TargetPort, p.Protocol)
}

// ContainerSpec is what a task runs.
type ContainerSpec struct {
	Image           string            `json:"Image"`
	Command         []string          `json:"Command,omitempty"`
	Args            []string          `json:"Args,omitempty"`
	Env             []string          `json:"Env,omitempty"`
	Labels          map[string]string `json:"Labels,omitempty"`
	StopGracePeriod time.Duration     `json:"StopGracePeriod"`
	// Healthcheck overrides the image's HEALTHCHECK (nil: keep it).
	Healthcheck *HealthConfig `json:"Healthcheck,omitempty"`
	// Resources are the container's limits and the reservations the
	// scheduler counts (a service shows them as Docker's
	// TaskTemplate.Resources).
	Resources *ResourceRequirements `json:"Resources,omitempty"`

	// The container options below are Docker's ContainerSpec fields, by
	// their names there.

	// Hostname is the container's host name.
	Hostname string `json:"Hostname,omitempty"`
	// Dir is the working directory.
	Dir string `json:"Dir,omitempty"`
	// User runs the process as USER[:GROUP]; Groups adds groups.
	User   string   `json:"User,omitempty"`
	Groups []string `json:"Groups,omitempty"`
	// Init runs an init process inside the container (nil: the engine's
	// default).
	Init *bool `json:"Init,omitempty"`
	// StopSignal stops the container (empty: the image's, or SIGTERM).
	StopSignal string `json:"StopSignal,omitempty"`
	// TTY allocates a pseudo-terminal; ReadOnly mounts the root file
	// system read-only.
	TTY      bool `json:"TTY,omitempty"`
	ReadOnly bool `json:"ReadOnly,omitempty"`
	// DNSConfig adds name servers, search domains and resolver options.
	DNSConfig *DNSConfig `json:"DNSConfig,omitempty"`
	// Sysctls are namespaced kernel parameters.
	Sysctls map[string]string `json:"Sysctls,omitempty"`
	// CapabilityAdd and CapabilityDrop change the default capabilities
	// ("CAP_NET_ADMIN", or "ALL").
	CapabilityAdd  []string `json:"CapabilityAdd,omitempty"`
	CapabilityDrop []string `json:"CapabilityDrop,omitempty"`
	// Ulimits are resource limits of the process.
	Ulimits []Ulimit `json:"Ulimits,omitempty"`
}

// DNSConfig is Docker's ContainerSpec.DNSConfig.
type DNSConfig struct {
	Nameservers []string `json:"Nameservers,omitempty"`
	Search      []string `json:"Search,omitempty"`
	Options     []string `json:"Options,omitempty"`
}

// Ulimit is one resource limit, as Docker's.
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// Resources are amounts of a node's CPU, memory and processes, in
// Docker's units.
type Resources struct {
	// NanoCPUs is CPUs × 10⁹ (0.5 CPU: 500000000).
	NanoCPUs    int64 `json:"NanoCPUs,omitempty"`
	MemoryBytes int64 `json:"MemoryBytes,omitempty"`
	// Pids caps the processes of a container (limits only).
	Pids int64 `json:"Pids,omitempty"`
}

// ResourceRequirements are a task's limits, passed to the engine, and
// reservations, which the scheduler places by.
type ResourceRequirements struct {
	Limits       *Resources `json:"Limits,omitempty"`
	Reservations *Resources `json:"Reservations,omitempty"`
}

// Reserved returns the reservations of r (zero if none).
func (r *ResourceRequirements) Reserved() Resources {
	if r == nil || r.Reservations == nil {
		return Resources{}
	}
	return *r.Reservations
}

// NodeDescription is what a node reports of itself (Docker's
// Node.Description; sw keeps its other parts at the top level).
type NodeDescription struct {
	// Resources are the CPUs and memory of the node's engine.
	Resources Resources `json:"Resources"`
}

// ServiceSpec is what a user asks for.
type ServiceSpec struct {
	Name   string            `json:"Name"`
	Labels map[string]string `json:"Labels,omitempty"`
	Mode   Mode              `json:"Mode"`
	// Replicas are a replicated service's tasks; a replicated job's total
	// completions.
	Replicas uint64 `json:"Replicas"`
	// MaxConcurrent is how many of a replicated job's tasks run at once.
	MaxConcurrent uint64        `json:"MaxConcurrent,omitempty"`
	Container     ContainerSpec `json:"ContainerSpec"`
	Restart       RestartPolicy `json:"RestartPolicy"`
	Ports         []PortConfig  `json:"Ports,omitempty"`
	// Placement limits the nodes the tasks may run on (labels plugin).
	Placement Placement `json:"Placement"`
	// Networks are the networks the tasks join (by network ID, with extra
	// names); none means the swarm's default network.
	Networks []NetworkAttachmentConfig `json:"Networks,omitempty"`
	// EndpointMode is how the service is found by name: "vip" (default)
	// or "dnsrr" (dns plugin).
	EndpointMode EndpointMode `json:"EndpointMode,omitempty"`
	// Update and Rollback say how tasks are replaced after a change and
	// on a rollback; nil means Docker's defaults (DefaultUpdateConfig).
	Update   *UpdateConfig `json:"UpdateConfig,omitempty"`
	Rollback *UpdateConfig `json:"RollbackConfig,omitempty"`
	// ForceUpdate is Docker's TaskTemplate.ForceUpdate: a counter whose
	// change replaces every task even when nothing else changed.
	ForceUpdate uint64 `json:"ForceUpdate,omitempty"`
}

// UpdateOrDefault returns the update configuration, Docker's if unset.
func (s *ServiceSpec) UpdateOrDefault() UpdateConfig {
	if s.Update == nil {
		return DefaultUpdateConfig()
	}
	return *s.Update
}

// RollbackOrDefault returns the rollback configuration, Docker's if unset.
func (s *ServiceSpec) RollbackOrDefault() UpdateConfig {
	if s.Rollback == nil {
		return DefaultUpdateConfig()
	}
	return *s.Rollback
}

// Placement holds a service's scheduling constraints, each as Docker
// writes them: "node.labels.zone==east", "node.role!=manager".
type Placement struct {
	Constraints []string `json:"Constraints,omitempty"`
	// Preferences spread the tasks evenly over the values of node
	// labels, the first over the nodes, each next within the groups of
	// the one before (labels plugin).
	Preferences []PlacementPreference `json:"Preferences,omitempty"`
	// MaxReplicas caps a replicated service's tasks on one node (0: no
	// cap).
	MaxReplicas uint64 `json:"MaxReplicas,omitempty"`
}

// Empty reports whether the placement limits nothing.
func (p *Placement) Empty() bool {
	return len(p.Constraints) == 0 && len(p.Preferences) == 0 && p.MaxReplicas == 0
}

// PlacementPreference is one of Docker's placement preferences; spread is
// the only kind.
type PlacementPreference struct {
	Spread *SpreadOver `json:"Spread,omitempty"`
}

// SpreadOver names what to spread over: "node.labels.<key>".
type SpreadOver struct {
	SpreadDescriptor string `json:"SpreadDescriptor"`
}

// SpreadLabel returns the node label key a preference spreads over, or
// "" if it names none.
func (p PlacementPreference) SpreadLabel() string {
	if p.Spread == nil {
		return ""
	}
	if k, ok := strings.CutPrefix(p.Spread.SpreadDescriptor, "node.labels."); ok {
		return k
	}
	return ""
}

// EndpointMode says how a service's name resolves.
type EndpointMode string

// Endpoint modes, as Docker's.
const (
	EndpointVIP   EndpointMode = "vip"
	EndpointDNSRR EndpointMode = "dnsrr"
)

// Service is a stored service.
type Service struct {
	ID string `json:"ID"`
	Meta
	Spec ServiceSpec `json:"Spec"`
	// SpecVersion counts the spec's changes; tasks remember the one they
	// were made from, so outdated tasks can be replaced.
	SpecVersion  uint64       `json:"SpecVersion"`
	PreviousSpec *ServiceSpec `json:"PreviousSpec,omitempty"`
	// PreviousSpecVersion is the spec version of PreviousSpec: a rollback
	// goes back to it, so tasks that still run that spec are kept.
	PreviousSpecVersion uint64 `json:"PreviousSpecVersion,omitempty"`
	// TopSpecVersion is the highest spec version ever given (a rollback
	// moves SpecVersion back; the next change goes above this one, so no
	// two specs ever share a version).
	TopSpecVersion uint64 `json:"-"`
	// UpdateStatus is the state of the latest rollout (nil: none yet).
	UpdateStatus *UpdateStatus `json:"UpdateStatus,omitempty"`
	// ReconcileError says why the orchestrator leaves the service as it
	// is (a spec beyond the limits); empty while it is reconciled.
	ReconcileError string `json:"ReconcileError,omitempty"`
	// VirtualIPs are the service's addresses on its networks in vip mode
	// (allocated).
	VirtualIPs []Attachment `json:"VirtualIPs,omitempty"`
}

// TaskStatus is a task's observed state, reported by the node running it.
type TaskStatus struct {
	State     TaskState `json:"State"`
	Timestamp time.Time `json:"Timestamp"`
	Message   string    `json:"Message,omitempty"`
	Err       string    `json:"Err,omitempty"`
	// ContainerID and Addr (the container's IP) are known once created/started.
	ContainerID string `json:"ContainerID,omitempty"`
	Addr        string `json:"Addr,omitempty"`
	ExitCode    *int   `json:"ExitCode,omitempty"`
}

// Task is one scheduled unit of a service: one container on one node.
type Task struct {
	ID string `json:"ID"`
	Meta
	ServiceID   string `json:"ServiceID"`
	ServiceName string `json:"ServiceName"`
	// Slot is the replica number (1-based) of a replicated service; 0 for global.
	Slot        uint64        `json:"Slot,omitempty"`
	NodeID      string        `json:"NodeID,omitempty"`
	SpecVersion uint64        `json:"SpecVersion"`
	Spec        ContainerSpec `json:"Spec"`
	Ports       []PortConfig  `json:"Ports,omitempty"`
	// Placement is the service's placement when the task was made.
	Placement Placement `json:"Placement"`
	// Networks are the task's networks and, once allocated, its address
	// on each; the scheduler places only allocated tasks.
	Networks     []Attachment `json:"Networks,omitempty"`
	DesiredState TaskState    `json:"DesiredState"`
	Status       TaskStatus   `json:"Status"`
	// Attempt counts the restarts that led to this task in its slot.
	Attempt uint64 `json:"Attempt"`
	// CreatedIndex is the log index of the command that created the task.
	// It orders a slot's tasks even when command times tie or go backwards
	// (a new leader's clock may be behind the old one's).
	CreatedIndex uint64 `json:"CreatedIndex,omitempty"`
	// RunningAt and EndedAt are the leader's times of the reports that
	// the task runs and that it stopped (zero until then): a rollout
	// tells from them whether a new task failed within its monitor
	// window. Stored only.
	RunningAt time.Time `json:"-"`
	EndedAt   time.Time `json:"-"`
}

// Name is the task's display name: "<service>.<slot>", or
// "<service>.<node ID>" for a global service's task.
func (t *Task) Name() string {
	if t.Slot == 0 {
		return t.ServiceName + "." + t.NodeID
	}
	return fmt.Sprintf("%s.%d", t.ServiceName, t.Slot)
}

// ContainerName is the Docker container name: "<task name>.<task ID>".
func (t *Task) ContainerName() string { return t.Name() + "." + t.ID }

// SlotKey identifies a task's slot within its service: the slot number, or
// the node for a global service.
func (t *Task) SlotKey() string {
	if t.Slot == 0 {
		return "node:" + t.NodeID
	}
	return fmt.Sprintf("%d", t.Slot)
}

// Container label keys put on every task container.
const (
	LabelService     = "com.sw.service.id"
	LabelServiceName = "com.sw.service.name"
	LabelTask        = "com.sw.task.id"
	LabelTaskName    = "com.sw.task.name"
	LabelNode        = "com.sw.node.id"
)
