package dispatcher

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"sw/cluster/agent"
	"sw/cluster/peer"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Remote serves the agent of a worker: it follows the node's session on a
// manager over mutual TLS and sends status reports there, moving to
// another manager when the one it uses stops answering.
type Remote struct {
	NodeID string
	Client *peer.Client
	Log    *slog.Logger
	// OnSession, when set, sees every session (the node's own record and
	// the current managers), e.g. to persist the manager list.
	OnSession func(peer.Session)

	mu       sync.Mutex
	managers []string
	current  int
	index    uint64
	closed   chan struct{}
}

var _ agent.Source = (*Remote)(nil)

// NewRemote starts from a list of manager addresses (host:port).
func NewRemote(nodeID string, c *peer.Client, managers []string, log *slog.Logger) *Remote {
	closed := make(chan struct{})
	close(closed)
	return &Remote{NodeID: nodeID, Client: c, Log: log, managers: append([]string{}, managers...), closed: closed}
}

// sessionWait is how long a manager holds a session request open.
const sessionWait = 20 * time.Second

// Assignments blocks until the node's tasks change (or a while passes) and
// returns them; the channel it returns is already closed, since the next
// call does the waiting.
func (r *Remote) Assignments(ctx context.Context) ([]*types.Task, <-chan struct{}, error) {
	r.mu.Lock()
	idx := r.index
	r.mu.Unlock()
	q := url.Values{"node": {r.NodeID}}
	if idx > 0 {
		q.Set("wait", strconv.FormatUint(idx, 10))
	}
	var s peer.Session
	err := r.call(ctx, http.MethodGet, peer.PathSession, q, nil, &s)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	r.index = s.Index
	if len(s.Managers) > 0 {
		r.managers = s.Managers
		r.current = 0
	}
	r.mu.Unlock()
	if r.OnSession != nil {
		r.OnSession(s)
	}
	return s.Tasks, r.closed, nil
}

// Report sends a batch of status updates.
func (r *Remote) Report(ctx context.Context, updates []store.TaskStatusFrom) error {
	return r.call(ctx, http.MethodPost, peer.PathStatus, nil, peer.StatusReport{Updates: updates}, nil)
}

// Managers returns the manager addresses known now.
func (r *Remote) Managers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.managers...)
}

// call tries the current manager, then each other one, once.
func (r *Remote) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	r.mu.Lock()
	ms, start := append([]string{}, r.managers...), r.current
	r.mu.Unlock()
	var err error
	for i := range ms {
		k := (start + i) % len(ms)
		cctx, cancel := context.WithTimeout(ctx, sessionWait+10*time.Second)
		err = r.Client.Do(cctx, ms[k], method, path, q, in, out)
		cancel()
		if err == nil {
			r.mu.Lock()
			r.current = k
			r.mu.Unlock()
			return nil
		}
		if pe, ok := err.(*peer.Error); ok && pe.Status != http.StatusServiceUnavailable {
			return err // the manager answered: trying another will not help
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.Log.Warn("dispatcher: manager unreachable; trying another", "manager", ms[k], "err", err)
		r.mu.Lock()
		r.index = 0 // a fresh manager: take its state as it is
		r.mu.Unlock()
	}
	if err == nil {
		err = errNoManagers
	}
	return err
}

var errNoManagers = &peer.Error{Message: "dispatcher: no managers known"}
