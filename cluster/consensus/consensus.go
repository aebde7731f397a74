// Package consensus runs hashicorp/raft for a manager: the on-disk log
// (raft-boltdb), snapshots, the transport, and a Propose call that turns a
// store.Command into a committed, applied log entry. Log entries and
// snapshots are encrypted at rest with the manager's data key (Config.Keys).
package consensus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"sw/cluster/seal"
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
	// ForceNewCluster rewrites the stored configuration so this node is
	// the only voter, keeping the state (recovery from lost quorum).
	ForceNewCluster bool
	// RequireState refuses to start without existing state (ErrNoState):
	// set when a manager resumes the swarm it was in, which must never
	// come up as an empty swarm because its log vanished.
	RequireState bool
	// FromSnapshot accepts a dir holding snapshots but no raft.db: a
	// backup being restored (with ForceNewCluster).
	FromSnapshot bool
	// Layer, when set, carries Raft (over the node's TLS port); otherwise
	// Raft listens on BindAddr in plain TCP.
	Layer raft.StreamLayer
	// Timeouts; zero values take the defaults below.
	HeartbeatTimeout, ElectionTimeout time.Duration
	Logger                            *slog.Logger
	// Keys holds the data key that encrypts the log entries and snapshots
	// on disk (required). Rotate it with Keys.Rotate, then Reencrypt.
	Keys *seal.Keyring
	// MinFree is the space (bytes) to keep free in Dir: with less, Propose
	// refuses the write (ErrNoSpace) before Raft writes anything, so a
	// full disk is a clear refusal rather than a failed log write, which
	// would depose the leader. Zero: no check.
	MinFree uint64
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

// ErrLeadershipLost is returned by Propose when this node stopped leading
// while the write was in flight: it may still be committed by the next
// leader. It matches ErrNotLeader.
var ErrLeadershipLost = fmt.Errorf("%w: it lost the leadership with the write in flight", ErrNotLeader)

// ErrTimeout is returned when a write could not be committed in time: the
// leader cannot reach a quorum.
var ErrTimeout = errors.New("the write was not committed in time: no quorum of managers answered")

// Node is a running Raft member.
type Node struct {
	raft      *raft.Raft
	logs      *raftboltdb.BoltStore
	sealed    *sealedLogs
	snaps     *sealedSnapshots
	transport *raft.NetworkTransport
	store     *store.Store
	// barrierTerm is the last term ReadIndex saw a barrier commit in.
	barrierTerm atomic.Uint64
	// authoritative: this node rewrote its configuration at start
	// (ForceNewCluster, FromSnapshot); see Admit.
	authoritative bool
	space         spaceCheck
}

var _ store.Proposer = (*Node)(nil)

// Open starts Raft over the store, replaying what is on disk. What is on
// disk is checked first (see Check): damaged data is a *StateError
// wrapping ErrDamaged, and with RequireState a dir without state one
// wrapping ErrNoState; nothing panics.
func Open(cfg Config, st *store.Store) (*Node, error) {
	if cfg.Keys == nil {
		return nil, errNoKeys
	}
	rc := raftConfig(cfg)
	opened, res, err := preflight(cfg.Dir, preflightOptions{keys: cfg.Keys, log: rc.Logger,
		snapshotOnly: cfg.FromSnapshot, forRaft: true, requireState: cfg.RequireState})
	if err != nil {
		return nil, err
	}
	bolt, logs, snaps := opened.bolt, opened.sealed, opened.snaps
	trans, err := transport(cfg, rc)
	if err != nil {
		_ = closeBolt(bolt)
		return nil, err
	}
	fail := func(err error) (*Node, error) {
		trans.Close()
		_ = closeBolt(bolt)
		return nil, err
	}
	if cfg.ForceNewCluster {
		conf := raft.Configuration{Servers: []raft.Server{{
			ID: raft.ServerID(cfg.NodeID), Address: trans.LocalAddr(), Suffrage: raft.Voter,
		}}}
		err := guarded("Raft", func() error {
			return raft.RecoverCluster(rc, &store.FSM{Store: store.New()}, logs, bolt, snaps, trans, conf)
		})
		if err == nil {
			err = keepTermAhead(bolt, snaps, res.Term)
		}
		if err != nil {
			return fail(fmt.Errorf("consensus: force new cluster: %w", err))
		}
	}
	if cfg.Bootstrap {
		servers := raft.Configuration{Servers: []raft.Server{{
			ID: raft.ServerID(cfg.NodeID), Address: trans.LocalAddr(), Suffrage: raft.Voter,
		}}}
		if err := raft.BootstrapCluster(rc, logs, bolt, snaps, trans, servers); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fail(fmt.Errorf("consensus: bootstrap: %w", err))
		}
	}
	var r *raft.Raft
	err = guarded("Raft", func() error {
		var err error
		r, err = raft.NewRaft(rc, &store.FSM{Store: st}, logs, bolt, snaps, trans)
		return err
	})
	if err != nil {
		return fail(&StateError{Dir: cfg.Dir, Problem: "Raft could not start from it", Kind: ErrDamaged, Err: err})
	}
	return &Node{raft: r, logs: bolt, sealed: logs, snaps: snaps, transport: trans, store: st,
		space: spaceCheck{dir: cfg.Dir, min: cfg.MinFree}, authoritative: cfg.ForceNewCluster || cfg.FromSnapshot}, nil
}

// keepTermAhead makes the stored current term at least the newest
// snapshot's after a recovery: a log rebuilt from a snapshot alone (a
// restored backup) has no term of its own, and Raft's terms must not go
// back.
func keepTermAhead(stable raft.StableStore, snaps raft.SnapshotStore, term uint64) error {
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 || metas[0].Term <= term {
		return err
	}
	return stable.SetUint64(keyCurrentTerm, metas[0].Term)
}

func transport(cfg Config, rc *raft.Config) (*raft.NetworkTransport, error) {
	if cfg.Layer != nil {
		return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: cfg.Layer, MaxPool: 3, Timeout: 5 * time.Second, Logger: rc.Logger,
		}), nil
	}
	adv, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
	if err != nil {
		return nil, fmt.Errorf("consensus: advertise address %q: %w", cfg.AdvertiseAddr, err)
	}
	trans, err := raft.NewTCPTransportWithLogger(cfg.BindAddr, adv, 3, 5*time.Second, rc.Logger)
	if err != nil {
		return nil, fmt.Errorf("consensus: listen on %s: %w", cfg.BindAddr, err)
	}
	return trans, nil
}

func raftConfig(cfg Config) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = pick(cfg.HeartbeatTimeout, DefaultHeartbeatTimeout)
	rc.ElectionTimeout = pick(cfg.ElectionTimeout, DefaultElectionTimeout)
	rc.LeaderLeaseTimeout = rc.HeartbeatTimeout / 2
	if testTrailingLogs > 0 {
		rc.TrailingLogs = testTrailingLogs
	}
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: logOutput(cfg.Logger), DisableTime: true})
	return rc
}

func logOutput(l *slog.Logger) io.Writer {
	if l == nil {
		return io.Discard
	}
	return slogWriter{l}
}

// slogWriter hands Raft's log lines (warnings and errors only, see
// Open) to the daemon's logger, so that they go where its own lines go.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.l.Warn(line)
		}
	}
	return len(p), nil
}

// testTrailingLogs, set by tests, keeps fewer log entries behind a
// snapshot, so that a new follower is sent the snapshot.
var testTrailingLogs uint64

func pick(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Propose replicates and applies a command; it returns the command's own
// result. Without a deadline on ctx it waits DefaultProposeTimeout.
func (n *Node) Propose(ctx context.Context, cmd *store.Command) error {
	_, err := n.ProposeIndex(ctx, cmd)
	return err
}

// ProposeIndex is Propose that also returns the log index the command was
// committed at.
func (n *Node) ProposeIndex(ctx context.Context, cmd *store.Command) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	if err := n.space.check(); err != nil {
		return 0, err
	}
	if cmd.Time.IsZero() {
		cmd.Time = time.Now().UTC()
	}
	data, err := cmd.Encode()
	if err != nil {
		return 0, err
	}
	timeout := DefaultProposeTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := n.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			return 0, ErrNotLeader
		case errors.Is(err, raft.ErrLeadershipLost):
			return 0, ErrLeadershipLost
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return 0, ErrTimeout
		}
		return 0, fmt.Errorf("consensus: %w", err)
	}
	if res, ok := f.Response().(error); ok && res != nil {
		return f.Index(), res
	}
	return f.Index(), nil
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

// ReadIndex returns, on the leader, a store index that covers every write
// acknowledged before the call, once a round of heartbeats confirms that
// it still leads: a store that has applied it serves a linearizable read.
// That is the leader's own store index: a write is acknowledged only once
// its leader has applied it, and a write acknowledged by an earlier leader
// is applied here before the first read of this term, which waits for a
// barrier. A term that changed under the call (deposed and elected again)
// is not trusted: the caller retries.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	term := n.raft.CurrentTerm()
	if n.barrierTerm.Load() != term {
		if err := n.Barrier(ctx); err != nil {
			return 0, leadershipErr(err)
		}
		n.barrierTerm.Store(term)
	}
	idx := n.store.Index()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, leadershipErr(err)
	}
	if n.raft.CurrentTerm() != term {
		return 0, ErrNotLeader
	}
	return idx, nil
}

// leadershipErr maps Raft's errors of a node that stopped leading to
// ErrNotLeader.
func leadershipErr(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrRaftShutdown):
		return ErrNotLeader
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return ErrTimeout
	}
	return fmt.Errorf("consensus: %w", err)
}

// Barrier waits until every entry committed before it is applied locally.
func (n *Node) Barrier(ctx context.Context) error {
	timeout := DefaultProposeTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return n.raft.Barrier(timeout).Error()
}

// Server is one member of the Raft configuration.
type Server struct {
	ID, Addr string
	Voter    bool
}

// Servers returns the current Raft configuration.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// Member reports whether node id is in this manager's latest Raft
// configuration. known is false while that configuration is empty: a
// manager that has just joined and not yet heard from its leader.
func (n *Node) Member(id string) (member, known bool) {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false, true // cannot tell: not a member
	}
	servers := f.Configuration().Servers
	for _, s := range servers {
		if string(s.ID) == id {
			return true, true
		}
	}
	return false, len(servers) > 0
}

// Admit decides whether manager nodeID may speak Raft to this one. A
// manager caught up with its leader has the current configuration and
// takes only its members: a demoted manager, whose certificate still says
// manager until it expires, is refused once the demotion took it out. A
// manager that is not caught up (just started, just joined with an empty
// configuration, cut off for a while) may hold a stale configuration, and
// the one peer it must hear is the current leader, perhaps a manager it
// does not know yet: it takes any manager until it has caught up.
//
// A manager that rewrote its configuration itself (--force-new-cluster, a
// restored backup) holds the one that counts from the start: it takes
// only its members, so that an old manager still standing for election
// cannot pull it back into the old swarm before it has led.
func (n *Node) Admit(nodeID string) error {
	member, _ := n.Member(nodeID)
	return admission(nodeID, n.CaughtUp() || n.authoritative, member)
}

func admission(nodeID string, caughtUp, member bool) error {
	if caughtUp && !member {
		return fmt.Errorf("node %s is not a member of this manager's Raft configuration", nodeID)
	}
	return nil
}

// AddVoter adds (or re-addresses) a voting manager; leader only.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.membershipChange(n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeoutOf(ctx)))
}

// RemoveServer takes a manager out of the voters; leader only.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.membershipChange(n.raft.RemoveServer(raft.ServerID(id), 0, timeoutOf(ctx)))
}

func (n *Node) membershipChange(f raft.IndexFuture) error {
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return ErrNotLeader
		}
		return fmt.Errorf("consensus: %w", err)
	}
	return nil
}

func timeoutOf(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return DefaultProposeTimeout
}

// CaughtUp reports whether every entry this node knows to be committed has
// been applied to its store, with a leader known. Raft's AppliedIndex
// counts entries handed to the state machine, not yet applied by it, so
// the store's own index must also have reached the last command
// committed (entries after it are Raft's own: no-ops, configurations).
func (n *Node) CaughtUp() bool {
	if a, _ := n.Leader(); a == "" {
		return false
	}
	commit := n.raft.CommitIndex()
	if commit == 0 || n.raft.AppliedIndex() < commit {
		return false
	}
	return n.store.Index() >= n.lastCommandAtOrBefore(commit)
}

// lastCommandAtOrBefore is the index of the last command entry at or
// before i, looking back a little way (0 if none is found there: older
// entries are in the snapshot restored at start).
func (n *Node) lastCommandAtOrBefore(i uint64) uint64 {
	for j := i; j > 0 && i-j < 64; j-- {
		var l raft.Log
		if err := n.sealed.GetLog(j, &l); err != nil {
			return 0
		}
		if l.Type == raft.LogCommand {
			return j
		}
	}
	return 0
}

// LastContact is when a follower last heard from the leader.
func (n *Node) LastContact() time.Time { return n.raft.LastContact() }

// Reencrypt rewrites every log entry and snapshot on disk with the
// current key of Config.Keys, after a rotation (Keys.Rotate): once it
// returns, the previous key can be dropped. Raft's writes wait meanwhile.
func (n *Node) Reencrypt() error {
	if err := n.sealed.reencrypt(); err != nil {
		return fmt.Errorf("consensus: re-encrypting the log: %w", err)
	}
	return n.snaps.reencrypt()
}

// Snapshot takes a snapshot now and compacts the log behind it.
func (n *Node) Snapshot() error {
	err := n.raft.Snapshot().Error()
	if errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return err
}

// Close stops Raft and releases its files and port.
func (n *Node) Close() error {
	err := n.raft.Shutdown().Error()
	return errors.Join(err, n.transport.Close(), n.logs.Close())
}
