package peer

import (
	"sw/cluster/store"
	"sw/cluster/types"
)

// Paths of the peer API.
const (
	PathJoin     = "/peer/join"
	PathRaftJoin = "/peer/raft-join"
	PathPropose  = "/peer/propose"
	PathSession  = "/peer/session"
	PathStatus   = "/peer/status"
	PathRenew    = "/peer/renew"
	PathLeave    = "/peer/leave"
	// PathReadIndex asks the leader for its read index.
	PathReadIndex = "/peer/read-index"
	// PathLogs streams the log of a task that runs on the serving node
	// (?task=ID&follow=1&tail=N), as prefixed text lines. Every node
	// serves it, workers too, to managers only.
	PathLogs = "/peer/logs"
	// PathHeartbeat is where a node that does not gossip
	// (types.LivenessHeartbeat) says it is up, and where a follower
	// manager relays the heartbeats it had to the leader (a Heartbeats
	// body).
	PathHeartbeat = "/peer/heartbeat"
)

// Heartbeats is a follower's relay of the nodes that sent it a heartbeat
// since its last relay.
type Heartbeats struct {
	Nodes []string `json:"Nodes"`
}

// JoinRequest is what a joining node sends, with only the join token to
// vouch for it.
type JoinRequest struct {
	Token         string `json:"Token"`
	CSR           []byte `json:"CSR"`
	Hostname      string `json:"Hostname"`
	AdvertiseAddr string `json:"AdvertiseAddr"`
	EngineVersion string `json:"EngineVersion"`
	OS            string `json:"OS"`
	Arch          string `json:"Arch"`
	// Resources are the CPUs and memory of the node's engine.
	Resources types.Resources `json:"Resources,omitempty"`
	// DataPathAddr is where the node takes overlay traffic ("": its
	// advertised address); EngineID names its Docker engine.
	DataPathAddr string `json:"DataPathAddr,omitempty"`
	EngineID     string `json:"EngineID,omitempty"`
	// Liveness is how the node will show it is up (types.Node.Liveness):
	// "" through gossip, "heartbeat" through heartbeats.
	Liveness string `json:"Liveness,omitempty"`
}

// JoinResponse admits a node: its identity, certificate and what it needs
// to reach the swarm.
type JoinResponse struct {
	NodeID    string   `json:"NodeID"`
	ClusterID string   `json:"ClusterID"`
	Role      string   `json:"Role"`
	CertPEM   []byte   `json:"Cert"`
	CAPEM     []byte   `json:"CA"`
	GossipKey []byte   `json:"GossipKey"`
	Managers  []string `json:"Managers"`
}

// RaftJoinRequest asks the leader to add a manager as a Raft voter.
type RaftJoinRequest struct {
	NodeID string `json:"NodeID"`
	Addr   string `json:"Addr"`
}

// ProposeRequest carries a command from a follower manager to the leader.
type ProposeRequest struct {
	Command store.Command `json:"Command"`
}

// ProposeResponse says where the command landed in the log.
type ProposeResponse struct {
	Index uint64 `json:"Index"`
}

// ReadIndexResponse is the leader's read index: the last command it has
// committed, at a moment it was sure it led. A read that waits until its
// store has applied it sees every write acknowledged before the request.
type ReadIndexResponse struct {
	Index uint64 `json:"Index"`
}

// Session is a node's view of its work: its own record, its tasks, and the
// managers it can turn to — plus what the node's plugins need of the rest
// of the swarm (the services, the tasks serving traffic, the plugin
// switches), with no secrets.
type Session struct {
	Index    uint64        `json:"Index"`
	Node     *types.Node   `json:"Node,omitempty"`
	Tasks    []*types.Task `json:"Tasks"`
	Managers []string      `json:"Managers"`

	Services []*types.Service `json:"Services,omitempty"`
	Serving  []*types.Task    `json:"Serving,omitempty"`
	Plugins  map[string]bool  `json:"Plugins,omitempty"`
	// Networks and Nodes program the node's overlay: the networks'
	// allocations, the other nodes' engines and data-path addresses.
	Networks []*types.Network `json:"Networks,omitempty"`
	Nodes    []*types.Node    `json:"Nodes,omitempty"`
	// DataPathPort is the overlay's UDP port (0: Docker's 4789).
	DataPathPort uint32 `json:"DataPathPort,omitempty"`
	// Delta: Tasks holds only the node's tasks written since the index the
	// request waited from (&delta=1), and TaskIDs names every task the
	// node has now: the rest are as in the session before.
	Delta   bool     `json:"Delta,omitempty"`
	TaskIDs []string `json:"TaskIDs,omitempty"`
}

// StatusReport carries a node's task status updates.
type StatusReport struct {
	Updates []store.TaskStatusFrom `json:"Updates"`
}

// RenewRequest asks for a new certificate for the caller's current role.
type RenewRequest struct {
	CSR []byte `json:"CSR"`
}

// RenewResponse carries the new certificate.
type RenewResponse struct {
	CertPEM []byte `json:"Cert"`
	Role    string `json:"Role"`
}

// ErrorBody is the body of a failed peer request.
type ErrorBody struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}
