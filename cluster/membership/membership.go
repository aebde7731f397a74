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
	sc.MemberlistConfig = ml
	s, err := serf.Create(sc)
	if err != nil {
		return nil, fmt.Errorf("membership: start gossip on %s: %w", net.JoinHostPort(cfg.BindIP, strconv.Itoa(cfg.Port)), err)
	}
	return &Pool{serf: s}, nil
}

// Members returns the pool's members as serf sees them.
func (p *Pool) Members() []serf.Member { return p.serf.Members() }

// Close leaves the pool and stops gossiping.
func (p *Pool) Close() error {
	_ = p.serf.Leave()
	return p.serf.Shutdown()
}
