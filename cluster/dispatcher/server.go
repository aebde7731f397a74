package dispatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Server is the managers' half of the dispatcher, the other end of
// Remote: it answers the sessions workers long-poll over the peer API
// (peer.PathSession) and commits their status reports (peer.PathStatus).
// Who may call at all is decided before, by the peer API's routing (the
// caller's certificate, checked against the store); Server keeps each
// caller to its own session and its own tasks.
type Server struct {
	// Store is this manager's copy of the swarm's state.
	Store *store.Store
	// Proposer commits the status reports, wherever the leader is.
	Proposer store.Proposer
	// Managers lists the managers' control addresses (host:port), sent
	// in every session for the worker to turn to.
	Managers func() []string
	// WaitReady returns nil once the store is caught up (a restarted
	// manager replays its log first); else the error to answer a session
	// with, or ctx's if it ended (then nothing is answered).
	WaitReady func(ctx context.Context) error
	// Beats takes the heartbeats of nodes that do not gossip.
	Beats *Beats
	// Batcher, if set, commits status reports together (its Run must be
	// running); else each is proposed alone.
	Batcher *Batcher

	mu     sync.Mutex
	shared *sharedPart // the newest shared part built
}

// sessionPoll bounds how long a worker's session request waits for news.
const sessionPoll = 20 * time.Second

// sessionCoalesce is how often, at most, a worker's session is answered
// for changes that are not its own: the services, serving tasks, networks
// and nodes its plugins mirror (the routing mesh, names). A change to the
// node itself or to a task on it is answered at once. Without it, every
// commit anywhere woke every worker's session and re-sent it everything:
// work of the swarm's size times the commit rate.
const sessionCoalesce = 500 * time.Millisecond

// Session serves the caller its session (GET peer.PathSession?node=ID):
// its tasks and what its plugins need of the swarm, waiting first, with
// &wait=INDEX, for news since that log index (see waitSession).
func (s *Server) Session(w http.ResponseWriter, r *http.Request, caller pki.NodeIdentity) {
	if r.URL.Query().Get("node") != caller.NodeID {
		peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: "a node may only follow its own session", Code: peer.CodeForbidden})
		return
	}
	if err := s.WaitReady(r.Context()); err != nil {
		if r.Context().Err() == nil {
			peer.Fail(w, err)
		}
		return
	}
	own := r.URL.Query().Get("view") == ViewOwn
	var since uint64 // a delta from this index (0: the whole list)
	if q := r.URL.Query().Get("wait"); q != "" {
		if idx, err := strconv.ParseUint(q, 10, 64); err == nil {
			if r.URL.Query().Get("delta") == "1" {
				since = idx
			}
			coalesce := sessionCoalesce
			if own {
				coalesce = 0 // only its own news matter
			}
			waitSession(r.Context(), s.Store, caller.NodeID, idx, sessionPoll, coalesce)
		}
	}
	out, err := s.session(s.Store.View(), caller.NodeID, own)
	if err == nil && since > 0 {
		out.delta(since)
	}
	var b []byte
	if err == nil {
		b, err = out.encode()
	}
	if err != nil {
		peer.Fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// ViewOwn, as a session request's view parameter, asks for the node's own
// record and tasks alone, without the rest of the swarm that plugins and
// the overlay mirror (a node that runs neither: the scale simulation's
// workers). Its answers stay the size of its own work as the swarm grows.
const ViewOwn = "own"

// session is node nodeID's session as of v, with the part every worker
// gets alike (services, serving tasks, plugin switches, networks, nodes)
// encoded once per store index and shared: after a commit, or on an idle
// swarm's polls, a thousand workers' answers cost one encoding of the
// swarm's state, not a thousand. On the wire it is peer.Session.
func (s *Server) session(v *store.ReadTx, nodeID string, own bool) (*sessionWire, error) {
	shared := &sharedPart{index: v.Index}
	if !own {
		var err error
		if shared, err = s.sharedAt(v); err != nil {
			return nil, err
		}
	}
	out := &sessionWire{Index: v.Index, Node: v.Node(nodeID), Tasks: v.TasksOnNode(nodeID), Managers: s.Managers(),
		sharedPart: shared}
	if c := v.Cluster(); c != nil {
		out.DataPathPort = c.DataPathPort
	}
	if out.Tasks == nil {
		out.Tasks = []*types.Task{}
	}
	return out, nil
}

// delta keeps in Tasks only the tasks written after index since, and
// names every task in TaskIDs: a worker's answers after its own reports
// carry what changed, not its whole list again.
func (o *sessionWire) delta(since uint64) {
	o.Delta = true
	o.TaskIDs = make([]string, 0, len(o.Tasks))
	changed := o.Tasks[:0:0]
	for _, t := range o.Tasks {
		o.TaskIDs = append(o.TaskIDs, t.ID)
		if t.Version > since {
			changed = append(changed, t)
		}
	}
	o.Tasks = changed
}

// sessionWire is peer.Session as the server writes it: the same fields
// and JSON, the shared ones already encoded.
type sessionWire struct {
	Index    uint64        `json:"Index"`
	Node     *types.Node   `json:"Node,omitempty"`
	Tasks    []*types.Task `json:"Tasks"`
	Managers []string      `json:"Managers"`
	*sharedPart
	DataPathPort uint32   `json:"DataPathPort,omitempty"`
	Delta        bool     `json:"Delta,omitempty"`
	TaskIDs      []string `json:"TaskIDs,omitempty"`
}

// encode writes the session as json.Marshal writes peer.Session, the
// shared part copied in as it is: encoding/json would scan and compact
// it again for every worker, and it is most of the bytes.
func (o *sessionWire) encode() ([]byte, error) {
	var b bytes.Buffer
	field := func(name string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("dispatcher: encode a session: %w", err)
		}
		b.WriteString(name)
		b.Write(raw)
		return nil
	}
	b.WriteString("{")
	if err := field(`"Index":`, o.Index); err != nil {
		return nil, err
	}
	if o.Node != nil {
		if err := field(`,"Node":`, o.Node); err != nil {
			return nil, err
		}
	}
	if err := field(`,"Tasks":`, o.Tasks); err != nil {
		return nil, err
	}
	if err := field(`,"Managers":`, o.Managers); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{`,"Services":`, o.Services}, {`,"Serving":`, o.Serving}, {`,"Plugins":`, o.Plugins},
		{`,"Networks":`, o.Networks}, {`,"Nodes":`, o.Nodes}} {
		if len(f.raw) > 0 {
			b.WriteString(f.name)
			b.Write(f.raw)
		}
	}
	if o.DataPathPort != 0 {
		if err := field(`,"DataPathPort":`, o.DataPathPort); err != nil {
			return nil, err
		}
	}
	if o.Delta {
		b.WriteString(`,"Delta":true`)
	}
	if len(o.TaskIDs) > 0 {
		if err := field(`,"TaskIDs":`, o.TaskIDs); err != nil {
			return nil, err
		}
	}
	b.WriteString("}")
	return b.Bytes(), nil
}

// sharedPart is what every worker's session holds alike at one index.
// Empty fields are nil, so that they are left out as peer.Session's
// omitempty leaves them out.
type sharedPart struct {
	index    uint64
	Services json.RawMessage `json:"Services,omitempty"`
	Serving  json.RawMessage `json:"Serving,omitempty"`
	Plugins  json.RawMessage `json:"Plugins,omitempty"`
	Networks json.RawMessage `json:"Networks,omitempty"`
	Nodes    json.RawMessage `json:"Nodes,omitempty"`
}

// sharedAt returns the shared part as of v, from the cache when it is of
// v's index.
func (s *Server) sharedAt(v *store.ReadTx) (*sharedPart, error) {
	s.mu.Lock()
	if c := s.shared; c != nil && c.index == v.Index {
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	p := &sharedPart{index: v.Index}
	for _, f := range []struct {
		dst   *json.RawMessage
		value any
	}{
		{&p.Services, v.Services()},
		{&p.Serving, serving(v)},
		{&p.Plugins, v.PluginSwitches()},
		{&p.Networks, v.Networks()},
		{&p.Nodes, v.Nodes()},
	} {
		if reflect.ValueOf(f.value).Len() == 0 {
			continue // left out, as omitempty does
		}
		b, err := json.Marshal(f.value)
		if err != nil {
			return nil, fmt.Errorf("dispatcher: encode a session: %w", err)
		}
		*f.dst = b
	}
	s.mu.Lock()
	if s.shared == nil || s.shared.index < p.index {
		s.shared = p
	}
	s.mu.Unlock()
	return p, nil
}

// waitSession returns when a worker whose last session reflected log
// index idx has news: at once for its own row or tasks, within coalesce
// for any other commit (never, if coalesce is 0), or after poll with none.
func waitSession(ctx context.Context, st *store.Store, nodeID string, idx uint64, poll, coalesce time.Duration) {
	pollT := time.NewTimer(poll)
	defer pollT.Stop()
	var others <-chan time.Time // armed once another change is seen
	// Taken once, before the first look: any commit touching the node from
	// here on closes it (one deleting a task too, which the versions
	// NodeChangedSince reads cannot show).
	own := st.NodeWatch(nodeID)
	for {
		anyCommit := st.Changed()
		v := st.View()
		if v.Index > idx {
			if v.NodeChangedSince(nodeID, idx) {
				return
			}
			if others == nil && coalesce > 0 {
				t := time.NewTimer(coalesce)
				defer t.Stop()
				others = t.C
			}
			anyCommit = nil // news already: only its own or the timer now
		}
		select {
		case <-own:
			return
		case <-others:
			return
		case <-anyCommit:
		case <-pollT.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// Status commits the caller's task status reports (POST
// peer.PathStatus); a node may report only its own tasks.
func (s *Server) Status(w http.ResponseWriter, r *http.Request, caller pki.NodeIdentity) {
	var rep peer.StatusReport
	if err := peer.ReadJSON(w, r, &rep); err != nil {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: err.Error(), Code: peer.CodeBadRequest})
		return
	}
	changes := make([]store.Change, 0, len(rep.Updates))
	for i := range rep.Updates {
		if rep.Updates[i].NodeID != caller.NodeID {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: "a node may only report its own tasks", Code: peer.CodeForbidden})
			return
		}
		changes = append(changes, store.Change{TaskStatus: &rep.Updates[i]})
	}
	var err error
	if s.Batcher != nil {
		err = s.Batcher.Commit(r.Context(), changes)
	} else {
		err = s.Proposer.Propose(r.Context(), &store.Command{Changes: changes})
	}
	if err != nil {
		peer.Fail(w, err)
		return
	}
	peer.Reply(w, struct{}{})
}

// serving lists the tasks that carry traffic now: running and meant to.
func serving(v *store.ReadTx) []*types.Task {
	var out []*types.Task
	for _, t := range v.Tasks() {
		if t.Status.State == types.TaskRunning && t.DesiredState == types.TaskRunning {
			out = append(out, t)
		}
	}
	return out
}
