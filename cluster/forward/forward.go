// Package forward makes a manager's writes and reads reach the Raft
// leader wherever it is: on the leader a write is proposed in place; on
// any other manager it is handed to the leader over the peer API
// (peer.PathPropose), and a read first waits for what the leader has
// committed (peer.PathReadIndex). While there is no leader it keeps
// trying, up to the caller's deadline.
package forward

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"sw/cluster/api"
	"sw/cluster/backoff"
	"sw/cluster/consensus"
	"sw/cluster/peer"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Raft is what a Forwarder needs of this manager's Raft node
// (consensus.Node).
type Raft interface {
	// Propose commits cmd, on the leader only (else consensus.ErrNotLeader).
	Propose(ctx context.Context, cmd *store.Command) error
	// ReadIndex is the leader's read index, on the leader only.
	ReadIndex(ctx context.Context) (uint64, error)
	// Leader is the leader's address and ID ("" if none is known).
	Leader() (addr, id string)
}

// Peers calls another manager's peer API (peer.Client).
type Peers interface {
	Do(ctx context.Context, addr, method, path string, q url.Values, in, out any) error
}

// Store is what a Forwarder needs of this manager's store (store.Store):
// how far it has applied the log, and a wait for more.
type Store interface {
	Index() uint64
	WaitPast(ctx context.Context, idx uint64, max time.Duration)
}

var (
	_ Raft           = (*consensus.Node)(nil)
	_ Peers          = (*peer.Client)(nil)
	_ Store          = (*store.Store)(nil)
	_ store.Proposer = (*Forwarder)(nil)
)

// Forwarder proposes through Raft on the leader, and from any other
// manager hands the command to the leader over the peer API; it also
// finds, for a read, the index the leader has committed (ReadIndex).
type Forwarder struct {
	raft  Raft
	store Store
	peers Peers
}

// New makes a Forwarder for the manager whose Raft node and store these
// are; peers reaches the leader when it is another manager.
func New(r Raft, st Store, peers Peers) *Forwarder {
	return &Forwarder{raft: r, store: st, peers: peers}
}

// ErrNoLeader explains a write that cannot be made: no leader, which with
// managers down means quorum is lost. It is of kind api.ErrUnavailable.
var ErrNoLeader = store.Errorf(api.ErrUnavailable, "the swarm has no leader: quorum is lost (a majority of the managers is unreachable), "+
	"so no change can be made. Bring the missing managers back; or, if they are gone for good, run "+
	"'sw swarm init --force-new-cluster' on a surviving manager to continue from its state as the only manager")

// Propose commits cmd, wherever the leader is. It gives up within the
// context's deadline or DefaultProposeTimeout. Every try carries the same
// request ID, so a command re-sent after its leader died — which may have
// committed it — is applied once, and answered as the first copy was.
func (f *Forwarder) Propose(ctx context.Context, cmd *store.Command) error {
	if cmd.RequestID == "" {
		cmd.RequestID = types.NewID()
	}
	sent := false // the command went out at least once
	err := f.atLeader(ctx, func() error {
		err := f.raft.Propose(ctx, cmd)
		sent = sent || errors.Is(err, consensus.ErrLeadershipLost)
		return err
	}, func(addr string) error {
		sent = true
		var resp peer.ProposeResponse
		if err := f.peers.Do(ctx, addr, http.MethodPost, peer.PathPropose, nil, peer.ProposeRequest{Command: *cmd}, &resp); err != nil {
			return err
		}
		// Read your writes: wait until this manager has applied it too.
		f.store.WaitPast(ctx, resp.Index-1, 5*time.Second)
		return nil
	})
	if sent && errors.Is(err, ErrNoLeader) {
		return maybeApplied{err}
	}
	return err
}

// maybeApplied is a write that failed after it went out to a leader that
// then went away: the next leader may still commit it.
type maybeApplied struct{ err error }

func (e maybeApplied) Error() string {
	return e.err.Error() + ". The change had reached a leader before it was lost and may still be applied: check before you retry"
}

func (e maybeApplied) Unwrap() error { return e.err }

// CatchUp waits until this manager's store holds every write acknowledged
// anywhere before the call, so that a read on any manager is as current
// as one on the leader: the leader confirms it still leads and names the
// last command it has committed (Raft's read index), and the store waits
// for it. Docker proxies reads to the leader for the same effect.
func (f *Forwarder) CatchUp(ctx context.Context) error {
	var idx uint64
	err := f.atLeader(ctx, func() (err error) {
		idx, err = f.raft.ReadIndex(ctx)
		return err
	}, func(addr string) error {
		var resp peer.ReadIndexResponse
		if err := f.peers.Do(ctx, addr, http.MethodGet, peer.PathReadIndex, nil, nil, &resp); err != nil {
			return err
		}
		idx = resp.Index
		return nil
	})
	if err != nil || idx == 0 {
		return err
	}
	f.store.WaitPast(ctx, idx-1, consensus.DefaultProposeTimeout)
	if f.store.Index() < idx {
		return store.Errorf(api.ErrUnavailable, "this manager has not caught up with the leader in time (it has applied index %d of %d); try again shortly",
			f.store.Index(), idx)
	}
	return nil
}

// atLeader runs local on this manager if it leads, else remote against
// the leader's address, retrying while there is no leader or the leader
// changes, up to ctx's deadline or DefaultProposeTimeout.
func (f *Forwarder) atLeader(ctx context.Context, local func() error, remote func(addr string) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, consensus.DefaultProposeTimeout)
		defer cancel()
	}
	poll := backoff.Backoff{Initial: leaderPoll, Jitter: backoff.Equal}
	for {
		err := f.once(ctx, local, remote)
		if !errors.Is(err, errRetry) {
			return err
		}
		if poll.Wait(ctx) != nil {
			return ErrNoLeader
		}
	}
}

var errRetry = errors.New("retry")

// leaderPoll is how often a manager with no leader to turn to looks again
// (Leader is a memory read): an election takes about a second, and a
// coarse poll would add up to its period to the first write after it.
const leaderPoll = 20 * time.Millisecond

func (f *Forwarder) once(ctx context.Context, local func() error, remote func(addr string) error) error {
	err := local()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, consensus.ErrNotLeader):
	case errors.Is(err, consensus.ErrTimeout):
		return ErrNoLeader
	case errors.Is(err, consensus.ErrNoSpace):
		return store.Errorf(api.ErrUnavailable, "%w", err)
	default:
		return err
	}
	addr, _ := f.raft.Leader()
	if addr == "" {
		return errRetry // an election may be under way
	}
	err = remote(addr)
	var pe *peer.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		if pe.Code == peer.CodeNotLeader {
			return errRetry
		}
		return peer.DecodeError(pe)
	case ctx.Err() != nil:
		return ErrNoLeader
	}
	return errRetry // the leader may just have died
}
