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
	// View, if ViewOwn, asks for sessions with the node's own record and
	// tasks alone (no plugins, no overlay on the node).
	View string

	// tasks are the node's tasks as of the last session, by ID, in its
	// order: where a delta session (only what changed) is merged.
	tasks []*types.Task

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
		if r.tasks != nil {
			q.Set("delta", "1")
		}
	}
	if r.View != "" {
		q.Set("view", r.View)
	}
	var s peer.Session
	err := r.call(ctx, http.MethodGet, peer.PathSession, q, nil, &s)
	if err != nil {
		return nil, nil, err
	}
	if s.Delta {
		s.Tasks = merge(r.tasks, s.Tasks, s.TaskIDs)
		s.Delta, s.TaskIDs = false, nil
	}
	r.tasks = s.Tasks
	if r.tasks == nil {
		r.tasks = []*types.Task{}
	}
	r.mu.Lock()
	r.index = s.Index
	if len(s.Managers) > 0 {
		// Stay with the manager in use if it is still one: workers spread
		// over the managers stay spread.
		cur, next := "", 0
		if r.current < len(r.managers) {
			cur = r.managers[r.current]
		}
		for i, m := range s.Managers {
			if m == cur {
				next = i
			}
		}
		r.managers, r.current = s.Managers, next
	}
	r.mu.Unlock()
	if r.OnSession != nil {
		r.OnSession(s)
	}
	return s.Tasks, r.closed, nil
}

// merge applies a delta session to the tasks of the one before: ids are
// the node's tasks now, in order; changed those written since.
func merge(before, changed []*types.Task, ids []string) []*types.Task {
	byID := make(map[string]*types.Task, len(before)+len(changed))
	for _, t := range before {
		byID[t.ID] = t
	}
	for _, t := range changed {
		byID[t.ID] = t
	}
	out := make([]*types.Task, 0, len(ids))
	for _, id := range ids {
		if t := byID[id]; t != nil {
			out = append(out, t)
		}
	}
	return out
}

// Report sends a batch of status updates.
func (r *Remote) Report(ctx context.Context, updates []store.TaskStatusFrom) error {
	return r.call(ctx, http.MethodPost, peer.PathStatus, nil, peer.StatusReport{Updates: updates}, nil)
}

// Heartbeat says the node is up every period until ctx ends, to the
// manager it uses (a node of types.LivenessHeartbeat, which does not
// gossip). A beat that fails is not retried: the next one is due soon;
// one slower than the period delays the next.
func (r *Remote) Heartbeat(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		// Given its whole TTL: a beat cut short closes its connection, and
		// the next would pay a new handshake on a manager already slow.
		cctx, cancel := context.WithTimeout(ctx, types.HeartbeatTTL)
		err := r.call(cctx, http.MethodPost, peer.PathHeartbeat, nil, nil, nil)
		cancel()
		if err != nil && ctx.Err() == nil {
			r.Log.Debug("dispatcher: heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
