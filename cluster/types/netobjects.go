package types

import "strings"

// Network is a swarm-wide overlay network: one subnet and one VXLAN ID
// for the whole swarm, given by the leader's allocator, so a task has the
// same address on every host and reaches tasks on other hosts over the
// overlay.
type Network struct {
	ID string `json:"ID"`
	Meta
	Spec NetworkSpec `json:"Spec"`
	// Subnet, Gateway and VNI are the allocation: set when the network is
	// made, never changed.
	Subnet  string `json:"Subnet"`
	Gateway string `json:"Gateway"`
	VNI     uint32 `json:"VNI"`
}

// NetworkSpec is what a user asks for in a network.
type NetworkSpec struct {
	Name   string            `json:"Name"`
	Driver string            `json:"Driver"`
	Labels map[string]string `json:"Labels,omitempty"`
	// Attachable networks may be joined by containers outside services.
	Attachable bool `json:"Attachable,omitempty"`
	// Ingress marks the network that carries the routing mesh.
	Ingress bool `json:"Ingress,omitempty"`
	// Subnet and Gateway, if set, are the addresses asked for; else the
	// allocator picks from the swarm's address pools.
	Subnet  string `json:"Subnet,omitempty"`
	Gateway string `json:"Gateway,omitempty"`
}

// NetworkAttachmentConfig attaches a service's tasks to a network, as
// Docker's: Target is the network's ID, Aliases more names for the
// service on it.
type NetworkAttachmentConfig struct {
	Target  string   `json:"Target"`
	Aliases []string `json:"Aliases,omitempty"`
}

// Allocated reports whether the allocator has given the network its
// subnet and VXLAN ID.
func (n *Network) Allocated() bool { return n.Subnet != "" && n.VNI != 0 }

// ServiceNetworks lists the IDs of the networks a service's tasks join:
// its own, or the default network; and the default network too, for the
// routing mesh, when it publishes ports in ingress mode.
func ServiceNetworks(s *ServiceSpec, defaultID string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, n := range s.Networks {
		add(n.Target)
	}
	if len(out) == 0 {
		add(defaultID)
	}
	for _, p := range s.Ports {
		if p.PublishMode != "host" {
			add(defaultID)
		}
	}
	return out
}

// DefaultNetworkName is the network of services created without
// --network: every task joins it, so such services find each other by
// name, as before there were several networks.
const DefaultNetworkName = "sw_default"

// Attachment is an address on a network: a task's, or a node's own (the
// source of the routing mesh's connections from that node).
type Attachment struct {
	NetworkID string `json:"NetworkID"`
	// Addr is the IPv4 address without its prefix; "" until allocated.
	Addr string `json:"Addr,omitempty"`
	// Bits is the network's prefix length, kept with virtual IPs for
	// Docker's "10.0.0.2/16" display.
	Bits int `json:"Bits,omitempty"`
}

// Allocated reports whether every attachment has its address.
func Allocated(as []Attachment) bool {
	for _, a := range as {
		if a.Addr == "" {
			return false
		}
	}
	return true
}

// AddrOn is the address an attachment list has on a network ("" if none).
func AddrOn(as []Attachment, networkID string) string {
	for _, a := range as {
		if a.NetworkID == networkID {
			return a.Addr
		}
	}
	return ""
}

// DockerNetworkName names the engine's network that holds a swarm
// network's containers on each host. The default network keeps the name
// the swarm's one task network always had, "sw_<cluster>".
func DockerNetworkName(clusterID string, n *Network) (name, bridge string) {
	name, bridge = TaskNetworkNames(clusterID)
	if n == nil || n.Spec.Name == DefaultNetworkName {
		return name, bridge
	}
	short := strings.ToLower(ShortID(n.ID))
	return name + "_" + short, "swn-" + short[:min(len(short), 10)]
}

// Default address pool values, as Docker's.
const (
	DefaultAddrPool       = "10.0.0.0/8"
	DefaultSubnetSize     = 24
	DefaultDataPathPort   = 4789
	DefaultNetworkMaxBits = 16
	// FirstVNI is the first VXLAN ID the allocator gives (Docker: 4096).
	FirstVNI = 4096
)
