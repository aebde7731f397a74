package types

// TaskNetwork is the bridge network on a node's engine that the swarm's
// task containers join: one per swarm, named after the swarm's ID, so two
// swarms on one host never share names, DNS or virtual IPs.
type TaskNetwork struct {
	// Name is the Docker network's name, e.g. "sw_3f2a9c1b7d4e".
	Name string `json:"Name"`
	// Bridge is the host's bridge interface, e.g. "sw-3f2a9c1b7d4e".
	Bridge string `json:"Bridge"`
	// Subnet is the network's IPv4 subnet, e.g. "172.18.0.0/16".
	Subnet string `json:"Subnet"`
	// Gateway is the bridge's address, the containers' way out.
	Gateway string `json:"Gateway"`
	// NetworkID is the swarm network it carries.
	NetworkID string `json:"NetworkID,omitempty"`
}

// Network label keys put on the task network.
const (
	LabelCluster = "com.sw.cluster.id"
	LabelNetwork = "com.sw.network.id"
)

// TaskNetworkNames names the task network and its bridge for a swarm.
func TaskNetworkNames(clusterID string) (name, bridge string) {
	short := ShortID(clusterID)
	return "sw_" + short, "sw-" + short
}

// ShortID is the first 12 characters of an ID, as Docker shows IDs.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
