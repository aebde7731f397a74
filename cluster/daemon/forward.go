package daemon

import (
	"context"
	"errors"
	"net/http"
	"time"

	"sw/cluster/api"
	"sw/cluster/backoff"
	"sw/cluster/consensus"
	"sw/cluster/peer"
	"sw/cluster/store"
	"sw/cluster/types"
)

// forwarder proposes through Raft on the leader, and from any other
// manager hands the command to the leader over the peer API; it also
// finds, for a read, the index the leader has committed (ReadIndex).
type forwarder struct {
	raft  *consensus.Node
	store *store.Store
	peers *peer.Client
}

var _ store.Proposer = (*forwarder)(nil)

// errNoLeader explains a write that cannot be made: no leader, which with
// managers down means quorum is lost.
var errNoLeader = store.Errorf(api.ErrUnavailable, "the swarm has no leader: quorum is lost (a majority of the managers is unreachable), "+
	"so no change can be made. Bring the missing managers back; or, if they are gone for good, run "+
	"'sw swarm init --force-new-cluster' on a surviving manager to continue from its state as the only manager")

// Propose commits cmd, wherever the leader is. It gives up within the
// context's deadline or DefaultProposeTimeout. Every try carries the same
// request ID, so a command re-sent after its leader died — which may have
// committed it — is applied once, and answered as the first copy was.
func (f *forwarder) Propose(ctx context.Context, cmd *store.Command) error {
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
	if sent && errors.Is(err, errNoLeader) {
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
func (f *forwarder) CatchUp(ctx context.Context) error {
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
func (f *forwarder) atLeader(ctx context.Context, local func() error, remote func(addr string) error) error {
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
			return errNoLeader
		}
	}
}

var errRetry = errors.New("retry")

// leaderPoll is how often a manager with no leader to turn to looks again
// (Leader is a memory read): an election takes about a second, and a
// coarse poll would add up to its period to the first write after it.
const leaderPoll = 20 * time.Millisecond

func (f *forwarder) once(ctx context.Context, local func() error, remote func(addr string) error) error {
	err := local()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, consensus.ErrNotLeader):
	case errors.Is(err, consensus.ErrTimeout):
		return errNoLeader
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
		return errNoLeader
	}
	return errRetry // the leader may just have died
}
