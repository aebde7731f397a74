package dispatcher

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/types"
)

// Beats remembers, on one manager, when each node last showed it was up
// with a heartbeat (types.LivenessHeartbeat nodes). The leader's node-state
// loop reads it; a follower relays what it had to the leader (RelayBeats).
// It holds one entry per node of the swarm: entries older than Forget are
// dropped as new beats come.
type Beats struct {
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	seen    map[string]time.Time
	fresh   map[string]bool // seen since the last Drain
	swept   time.Time
	started time.Time
}

// Forget is how long a node's last heartbeat is kept: far past
// types.HeartbeatTTL, so that a node is Down long before it is forgotten.
const Forget = 20 * types.HeartbeatTTL

func (b *Beats) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Seen records a heartbeat from each of the nodes, now.
func (b *Beats) Seen(ids ...string) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen, b.fresh, b.swept, b.started = map[string]time.Time{}, map[string]bool{}, now, now
	}
	for _, id := range ids {
		b.seen[id] = now
		b.fresh[id] = true
	}
	if now.Sub(b.swept) > Forget {
		for id, t := range b.seen {
			if now.Sub(t) > Forget {
				delete(b.seen, id)
			}
		}
		b.swept = now
	}
}

// Alive reports whether node id has sent a heartbeat within
// types.HeartbeatTTL. known is false while this manager has not been
// counting for that long: it may not have heard from everyone yet.
func (b *Beats) Alive(id string) (alive, known bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.seen[id]
	if ok && now.Sub(t) <= types.HeartbeatTTL {
		return true, true
	}
	return false, b.seen != nil && now.Sub(b.started) > types.HeartbeatTTL
}

// Start marks the moment this manager began to count (a new leader): no
// node is judged Down before a whole TTL has passed since.
func (b *Beats) Start() {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen, b.fresh = map[string]time.Time{}, map[string]bool{}
	}
	b.started, b.swept = now, now
}

// Drain returns the nodes seen since the last Drain, sorted, and forgets
// that they were.
func (b *Beats) Drain() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.fresh))
	for id := range b.fresh {
		out = append(out, id)
	}
	clear(b.fresh)
	sort.Strings(out)
	return out
}

// Requeue has the next Drain return ids again (a relay that failed),
// with the times they were last seen unchanged.
func (b *Beats) Requeue(ids []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fresh == nil {
		b.seen, b.fresh = map[string]time.Time{}, map[string]bool{}
	}
	for _, id := range ids {
		b.fresh[id] = true
	}
}

// maxRelay bounds the node IDs one relay may carry (a swarm's nodes).
const maxRelay = 100000

// Heartbeat takes a heartbeat (POST peer.PathHeartbeat): from a node about
// itself, with no body; or from a manager relaying the nodes it heard
// from (a peer.Heartbeats body), of which only those the store knows are
// taken.
func (s *Server) Heartbeat(w http.ResponseWriter, r *http.Request, caller pki.NodeIdentity) {
	var relay peer.Heartbeats
	if r.ContentLength != 0 {
		if err := peer.ReadJSON(w, r, &relay); err != nil {
			peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: err.Error(), Code: peer.CodeBadRequest})
			return
		}
	}
	if len(relay.Nodes) == 0 {
		s.Beats.Seen(caller.NodeID)
		peer.Reply(w, struct{}{})
		return
	}
	if !caller.IsManager() {
		peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: "only managers may relay heartbeats", Code: peer.CodeForbidden})
		return
	}
	if len(relay.Nodes) > maxRelay {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: "too many nodes in one relay", Code: peer.CodeBadRequest})
		return
	}
	v := s.Store.View()
	known := relay.Nodes[:0]
	for _, id := range relay.Nodes {
		if v.Node(id) != nil {
			known = append(known, id)
		}
	}
	s.Beats.Seen(known...)
	peer.Reply(w, struct{}{})
}

// Peers calls another manager's peer API (peer.Client).
type Peers interface {
	Do(ctx context.Context, addr, method, path string, q url.Values, in, out any) error
}

// RelayBeats runs on every manager until ctx ends: every period it hands
// the heartbeats this manager took since the last time to the leader
// (leader() is its peer address, "" when there is none or it is this
// manager, whose own Beats the node-state loop reads).
func RelayBeats(ctx context.Context, b *Beats, leader func() string, peers Peers, period time.Duration, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		addr := leader()
		if addr == "" {
			continue
		}
		ids := b.Drain()
		if len(ids) == 0 {
			continue
		}
		// A busy leader may take a while: cut short, the relay would be
		// lost (and its connection with it), and the nodes judged Down.
		cctx, cancel := context.WithTimeout(ctx, types.HeartbeatTTL/2)
		err := peers.Do(cctx, addr, http.MethodPost, peer.PathHeartbeat, nil, peer.Heartbeats{Nodes: ids}, nil)
		cancel()
		if err != nil && ctx.Err() == nil {
			b.Requeue(ids)
			log.Warn("dispatcher: relaying heartbeats to the leader failed; will send them again", "leader", addr, "nodes", len(ids), "err", err)
		}
	}
}
