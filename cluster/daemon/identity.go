package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"sw/cluster/types"
)

// identity is what a node remembers of its swarm across restarts.
type identity struct {
	NodeID        string `json:"NodeID"`
	ClusterID     string `json:"ClusterID"`
	Role          string `json:"Role"`
	AdvertiseAddr string `json:"AdvertiseAddr"` // host:port of Raft/control
	ListenAddr    string `json:"ListenAddr"`
	// GossipKey encrypts serf traffic.
	GossipKey []byte `json:"GossipKey,omitempty"`
	// Managers are the control addresses of the managers last known.
	Managers []string `json:"Managers,omitempty"`
	// DataPathAddr is where this node takes overlay traffic ("": the
	// advertised address's host).
	DataPathAddr string `json:"DataPathAddr,omitempty"`
}

func (id *identity) isManager() bool { return id.Role == string(types.RoleManager) }

const identityFile = "node.json"

func loadIdentity(dir string) (*identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("daemon: corrupt %s: %w", identityFile, err)
	}
	return &id, nil
}

func saveIdentity(dir string, id *identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, identityFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, identityFile))
}

// DefaultControlPort is the cluster control port, as Docker's 2377.
const DefaultControlPort = 2377

// resolveAddrs fills in the listen and advertise addresses as Docker
// does: listen defaults to 0.0.0.0:2377; advertise defaults to the listen
// IP if it is specific, else the host's first non-loopback IPv4 address.
func resolveAddrs(listen, advertise string) (string, string, error) {
	if listen == "" {
		listen = "0.0.0.0:" + strconv.Itoa(DefaultControlPort)
	}
	lhost, lport, err := splitHostPortDefault(listen, DefaultControlPort)
	if err != nil {
		return "", "", fmt.Errorf("invalid --listen-addr %q: %w", listen, err)
	}
	if lhost == "" {
		lhost = "0.0.0.0"
	}
	listen = net.JoinHostPort(lhost, lport)
	if advertise == "" {
		advertise = lhost
		if ip := net.ParseIP(lhost); ip == nil || ip.IsUnspecified() {
			advertise = hostIP()
		}
	}
	ahost, aport, err := splitHostPortDefault(advertise, 0)
	if err != nil {
		return "", "", fmt.Errorf("invalid --advertise-addr %q: %w", advertise, err)
	}
	if aport == "0" {
		aport = lport
	}
	if ip := net.ParseIP(ahost); ip == nil || ip.IsUnspecified() {
		return "", "", fmt.Errorf("invalid --advertise-addr %q: want an IP address other than 0.0.0.0", advertise)
	}
	return listen, net.JoinHostPort(ahost, aport), nil
}

func splitHostPortDefault(s string, def int) (string, string, error) {
	if ip := net.ParseIP(s); ip != nil {
		return s, strconv.Itoa(def), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", err
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "", fmt.Errorf("port %q out of range 1-65535", port)
	}
	if host != "" && net.ParseIP(host) == nil {
		return "", "", fmt.Errorf("%q is not an IP address", host)
	}
	return host, port, nil
}

func hostIP() string {
	ifs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range ifs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
