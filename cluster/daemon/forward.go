package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"sw/cluster/api"
	"sw/cluster/consensus"
	"sw/cluster/peer"
	"sw/cluster/store"
)

// forwarder proposes through Raft on the leader, and from any other
// manager hands the command to the leader over the peer API.
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
// context's deadline or DefaultProposeTimeout.
func (f *forwarder) Propose(ctx context.Context, cmd *store.Command) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, consensus.DefaultProposeTimeout)
		defer cancel()
	}
	for {
		err := f.once(ctx, cmd)
		if !errors.Is(err, errRetry) {
			return err
		}
		select {
		case <-ctx.Done():
			return errNoLeader
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var errRetry = errors.New("retry")

func (f *forwarder) once(ctx context.Context, cmd *store.Command) error {
	err := f.raft.Propose(ctx, cmd)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, consensus.ErrNotLeader):
	case errors.Is(err, consensus.ErrTimeout):
		return errNoLeader
	default:
		return err
	}
	addr, _ := f.raft.Leader()
	if addr == "" {
		return errRetry // an election may be under way
	}
	var resp peer.ProposeResponse
	err = f.peers.Do(ctx, addr, http.MethodPost, peer.PathPropose, nil, peer.ProposeRequest{Command: *cmd}, &resp)
	var pe *peer.Error
	switch {
	case err == nil:
		// Read your writes: wait until this manager has applied it too.
		f.store.WaitPast(ctx, resp.Index-1, 5*time.Second)
		return nil
	case errors.As(err, &pe):
		if pe.Code == codeNotLeader {
			return errRetry
		}
		return fromPeerError(pe)
	case ctx.Err() != nil:
		return errNoLeader
	}
	return errRetry // the leader may just have died
}

// Error codes carried over the peer API, so a kind of error survives the
// trip to the leader and back.
const (
	codeNotLeader  = "not_leader"
	codeNameInUse  = "name_in_use"
	codeConflict   = "conflict"
	codeNotFound   = "not_found"
	codeBadRequest = "bad_request"
	codeUnavail    = "unavailable"
	codeForbidden  = "forbidden"
	codeAddrInUse  = "addr_in_use"
	// codeThrottled: too many failed attempts from the caller's address.
	codeThrottled = "throttled"
)

var codeKinds = []struct {
	code   string
	kind   error
	status int
}{
	{codeNameInUse, store.ErrNameInUse, http.StatusConflict}, {codeConflict, store.ErrConflict, http.StatusConflict},
	{codeNotFound, store.ErrNotFound, http.StatusNotFound}, {codeBadRequest, api.ErrBadRequest, http.StatusBadRequest},
	{codeUnavail, api.ErrUnavailable, http.StatusServiceUnavailable},
	{codeAddrInUse, store.ErrAddrInUse, http.StatusConflict},
}

func toPeerError(err error) (int, peer.ErrorBody) {
	if errors.Is(err, consensus.ErrNotLeader) {
		return http.StatusServiceUnavailable, peer.ErrorBody{Message: err.Error(), Code: codeNotLeader}
	}
	for _, ck := range codeKinds {
		if errors.Is(err, ck.kind) {
			return ck.status, peer.ErrorBody{Message: err.Error(), Code: ck.code}
		}
	}
	return http.StatusInternalServerError, peer.ErrorBody{Message: err.Error()}
}

func fromPeerError(pe *peer.Error) error {
	for _, ck := range codeKinds {
		if pe.Code == ck.code {
			return store.Errorf(ck.kind, "%s", pe.Message)
		}
	}
	return fmt.Errorf("%s", pe.Message)
}
