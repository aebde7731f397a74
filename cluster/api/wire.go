// Package api is the daemon's HTTP/JSON interface on its unix socket, and
// the Go client the CLI uses. Reads are served from the local store; writes
// go through the Backend (the daemon), which proposes them through Raft.
package api

import (
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
}

// InitRequest is `sw swarm init`.
type InitRequest struct {
	AdvertiseAddr string `json:"AdvertiseAddr,omitempty"`
	ListenAddr    string `json:"ListenAddr,omitempty"`
}

// InitResponse names the new node and cluster.
type InitResponse struct {
	NodeID        string `json:"NodeID"`
	ClusterID     string `json:"ClusterID"`
	AdvertiseAddr string `json:"AdvertiseAddr"`
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
// the one the client read.
type UpdateServiceRequest struct {
	Version uint64            `json:"Version"`
	Spec    types.ServiceSpec `json:"Spec"`
}

// ErrorResponse is the body of every failed request.
type ErrorResponse struct {
	Message string `json:"message"`
}

// Header carrying the store index a read reflects.
const HeaderIndex = "X-Sw-Index"
