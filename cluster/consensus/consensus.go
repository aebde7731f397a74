// Package consensus runs hashicorp/raft for a manager: the on-disk log
// (raft-boltdb), snapshots, the transport, and a Propose call that turns a
// store.Command into a committed, applied log entry.
package consensus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"sw/cluster/store"
)

// Config says where and how a manager's Raft runs.
type Config struct {
	// Dir holds raft.db and the snapshots.
	Dir string
	// NodeID is the node's ID, used as the Raft server ID.
	NodeID string
	// BindAddr is the TCP address Raft listens on; AdvertiseAddr the one
	// peers use to reach it.
	BindAddr, AdvertiseAddr string
	// Bootstrap makes a brand-new single-voter cluster (swarm init).
	Bootstrap bool
	// Timeouts; zero values take the defaults below.
	HeartbeatTimeout, ElectionTimeout time.Duration
	Logger                            *slog.Logger
}

// Default timeouts: a leader's death is noticed in 0.5–1 s and a new one
// elected about a second later.
const (
	DefaultHeartbeatTimeout = 500 * time.Millisecond
	DefaultElectionTimeout  = 500 * time.Millisecond
	// DefaultProposeTimeout bounds a write that has no deadline of its own.
	DefaultProposeTimeout = 5 * time.Second
)

// ErrNotLeader is returned by Propose on a node that is not the leader.
var ErrNotLeader = errors.New("this manager is not the Raft leader")

// Node is a running Raft member.
type Node struct {
	raft      *raft.Raft
	logs      *raftboltdb.BoltStore
	transport *raft.NetworkTransport
	store     *store.Store
}

var _ store.Proposer = (*Node)(nil)

// Open starts Raft over the store, replaying what is on disk.
func Open(cfg Config, st *store.Store) (*Node, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("consensus: %w", err)
	}
	rc := raftConfig(cfg)
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("consensus: open log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, rc.Logger)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("consensus: open snapshots: %w", err)
	}
	adv, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("consensus: advertise address %q: %w", cfg.AdvertiseAddr, err)
	}
	trans, err := raft.NewTCPTransportWithLogger(cfg.BindAddr, adv, 3, 5*time.Second, rc.Logger)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("consensus: listen on %s: %w", cfg.BindAddr, err)
	}
	if cfg.Bootstrap {
		servers := raft.Configuration{Servers: []raft.Server{{
			ID: raft.ServerID(cfg.NodeID), Address: trans.LocalAddr(), Suffrage: raft.Voter,
		}}}
		if err := raft.BootstrapCluster(rc, logs, logs, snaps, trans, servers); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			trans.Close()
			logs.Close()
			return nil, fmt.Errorf("consensus: bootstrap: %w", err)
		}
	}
	r, err := raft.NewRaft(rc, &store.FSM{Store: st}, logs, logs, snaps, trans)
	if err != nil {
		trans.Close()
		logs.Close()
		return nil, fmt.Errorf("consensus: start: %w", err)
	}
	return &Node{raft: r, logs: logs, transport: trans, store: st}, nil
}

func raftConfig(cfg Config) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = pick(cfg.HeartbeatTimeout, DefaultHeartbeatTimeout)
	rc.ElectionTimeout = pick(cfg.ElectionTimeout, DefaultElectionTimeout)
	rc.LeaderLeaseTimeout = rc.HeartbeatTimeout / 2
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: logOutput(cfg.Logger)})
	return rc
}

func logOutput(l *slog.Logger) io.Writer {
	if l == nil {
		return io.Discard
	}
	return os.Stderr
}

func pick(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Propose replicates and applies a command; it returns the command's own
// result. Without a deadline on ctx it waits DefaultProposeTimeout.
func (n *Node) Propose(ctx context.Context, cmd *store.Command) error {
	if n.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	if cmd.Time.IsZero() {
		cmd.Time = time.Now().UTC()
	}
	data, err := cmd.Encode()
	if err != nil {
		return err
	}
	timeout := DefaultProposeTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := n.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return ErrNotLeader
		}
		return fmt.Errorf("consensus: %w", err)
	}
	if res, ok := f.Response().(error); ok && res != nil {
		return res
	}
	return nil
}

// IsLeader reports whether this node leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderCh delivers true when this node gains leadership, false when it
// loses it.
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }

// Leader returns the current leader's address and ID, empty if unknown.
func (n *Node) Leader() (addr, id string) {
	a, i := n.raft.LeaderWithID()
	return string(a), string(i)
}

// WaitLeader blocks until some leader is known or ctx ends.
func (n *Node) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if a, _ := n.Leader(); a != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consensus: no leader elected: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Barrier waits until every entry committed before it is applied locally.
func (n *Node) Barrier(ctx context.Context) error {
	timeout := DefaultProposeTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return n.raft.Barrier(timeout).Error()
}

// Close stops Raft and releases its files and port.
func (n *Node) Close() error {
	err := n.raft.Shutdown().Error()
	return errors.Join(err, n.transport.Close(), n.logs.Close())
}
