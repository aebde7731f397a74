// Package membership runs the node's serf agent: the gossip pool every
// node joins, tagged with its role, ID and addresses. Later it feeds node
// status and Raft voter reconciliation.
package membership

import (
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// DefaultPort is the gossip port, as Docker's 7946.
const DefaultPort = 7946

// Config says how the node gossips.
type Config struct {
	NodeID   string
	BindIP   string
	AdvIP    string
	Port     int
	Tags     map[string]string
	EventsCh chan<- serf.Event
	// Key encrypts gossip (32 bytes, AES-256); nil gossips in the clear.
	Key []byte
}

// Pool is a running serf member.
type Pool struct{ serf *serf.Serf }

// Start joins nothing yet: it starts a pool of one.
func Start(cfg Config) (*Pool, error) {
	sc := serf.DefaultConfig()
	sc.NodeName = cfg.NodeID
	sc.Tags = cfg.Tags
	sc.EventCh = cfg.EventsCh
	sc.Logger = log.New(io.Discard, "", 0)
	ml := memberlist.DefaultLANConfig()
	ml.Name = cfg.NodeID
	ml.BindAddr = cfg.BindIP
	ml.BindPort = cfg.Port
	ml.AdvertiseAddr = cfg.AdvIP
	ml.AdvertisePort = cfg.Port
	ml.Logger = sc.Logger
	ml.SecretKey = cfg.Key
	// Detect a dead node in about 2-3 s rather than memberlist's LAN ~5 s:
	// probe twice a second and suspect for a shorter while.
	ml.ProbeInterval = 500 * time.Millisecond
	ml.ProbeTimeout = 300 * time.Millisecond
	ml.SuspicionMult = 3
	ml.GossipInterval = 100 * time.Millisecond
	// A join to a host that is gone gives up after 2 s, not 10: the join
	// loops try the nodes they miss one after the other.
	ml.TCPTimeout = 2 * time.Second
	sc.MemberlistConfig = ml
	// Leaving (a daemon stopping) waits at most 1 s for its leave to be
	// heard, not serf's 5 s (with the other nodes stopping too, no one
	// acknowledges it), and lets it spread for 300 ms, not 1 s: gossip
	// goes out every 100 ms.
	sc.BroadcastTimeout = time.Second
	sc.LeavePropagateDelay = 300 * time.Millisecond
	sc.ReapInterval = 5 * time.Second
	sc.TombstoneTimeout = time.Minute
	s, err := serf.Create(sc)
	if err != nil {
		return nil, fmt.Errorf("membership: start gossip on %s: %w", net.JoinHostPort(cfg.BindIP, strconv.Itoa(cfg.Port)), err)
	}
	return &Pool{serf: s}, nil
}

// Join contacts the given gossip addresses (host:port) and returns how
// many answered.
func (p *Pool) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	return p.serf.Join(addrs, true)
}

// Alive returns the names (node IDs) of the members serf considers alive.
func (p *Pool) Alive() map[string]bool {
	out := map[string]bool{}
	for _, m := range p.serf.Members() {
		if m.Status == serf.StatusAlive {
			out[m.Name] = true
		}
	}
	return out
}

// AliveHosts returns the IP addresses of the members alive now.
func (p *Pool) AliveHosts() map[string]bool {
	out := map[string]bool{}
	for _, m := range p.serf.Members() {
		if m.Status == serf.StatusAlive {
			out[m.Addr.String()] = true
		}
	}
	return out
}

// GossipAddr is the gossip address of a node advertised at host.
func GossipAddr(host string) string { return net.JoinHostPort(host, strconv.Itoa(DefaultPort)) }

// Members returns the pool's members as serf sees them.
func (p *Pool) Members() []serf.Member { return p.serf.Members() }

// Close leaves the pool and stops gossiping.
func (p *Pool) Close() error {
	_ = p.serf.Leave()
	return p.serf.Shutdown()
}
