package dispatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// TestWaitSession: a worker's session answers at once for a change to its
// own node or tasks, only after the coalescing delay for changes
// elsewhere, and after the poll with no change at all.
func TestWaitSession(t *testing.T) {
	st := store.New()
	apply := applier(t, st)
	apply(store.Change{PutNode: &types.Node{ID: "w1", Hostname: "w1"}}, store.Change{PutNode: &types.Node{ID: "w2", Hostname: "w2"}},
		store.Change{CreateService: &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", Replicas: 2}}},
		store.Change{CreateTask: &types.Task{ID: "t1", ServiceID: "s1", Slot: 1, NodeID: "w1", DesiredState: types.TaskRunning}},
		store.Change{CreateTask: &types.Task{ID: "t2", ServiceID: "s1", Slot: 2, NodeID: "w2", DesiredState: types.TaskRunning}})
	const poll, coalesce = 2 * time.Second, 300 * time.Millisecond
	// wait runs waitSession for w1 from the current index while change
	// runs, and returns how long it took.
	wait := func(change func()) time.Duration {
		from := st.Index()
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			waitSession(context.Background(), st, "w1", from, poll, coalesce)
		}()
		time.Sleep(20 * time.Millisecond) // let it start waiting
		change()
		<-done
		return time.Since(start)
	}
	report := func(task, node string) func() {
		return func() {
			apply(store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: task, NodeID: node,
				Status: types.TaskStatus{State: types.TaskRunning, Timestamp: time.Now()}}})
		}
	}
	if d := wait(report("t1", "w1")); d > coalesce/2 {
		t.Errorf("its own task's report answered after %v, want at once", d)
	}
	if d := wait(report("t2", "w2")); d < coalesce || d > poll/2 {
		t.Errorf("another node's report answered after %v, want after %v (coalesced)", d, coalesce)
	}
	if d := wait(func() {}); d < poll {
		t.Errorf("no change answered after %v, want the poll's %v", d, poll)
	}
	// A change elsewhere, then its own: answered at its own.
	if d := wait(func() {
		report("t2", "w2")()
		apply(store.Change{DeleteTask: "t1"})
	}); d > coalesce/2 {
		t.Errorf("its task deleted after another change: answered after %v, want at once", d)
	}
	// Behind already (commits since its index): an own change in the past
	// answers at once.
	from := st.Index()
	apply(store.Change{NodeState: &store.NodeStateFrom{NodeID: "w1", State: types.NodeReady}})
	start := time.Now()
	waitSession(context.Background(), st, "w1", from, poll, coalesce)
	if d := time.Since(start); d > coalesce/2 {
		t.Errorf("a past change to its node answered after %v", d)
	}
}

// recordingProposer commits through a store.Local and keeps every command.
type recordingProposer struct {
	local *store.Local
	cmds  []*store.Command
	err   error
}

func (p *recordingProposer) Propose(ctx context.Context, cmd *store.Command) error {
	p.cmds = append(p.cmds, cmd)
	if p.err != nil {
		return p.err
	}
	return p.local.Propose(ctx, cmd)
}

func newServer(t *testing.T) (*Server, *recordingProposer) {
	t.Helper()
	st, local := newStore(t, task("a1", "n1", types.TaskRunning), task("b1", "n2", types.TaskAssigned))
	if err := local.Propose(context.Background(), &store.Command{Changes: []store.Change{
		{PutCluster: &types.Cluster{ID: "c1", Plugins: map[string]bool{"ingress": true}, DataPathPort: 4790}},
		{PutNode: &types.Node{ID: "n1", Hostname: "n1"}}, {PutNode: &types.Node{ID: "n2", Hostname: "n2"}},
		{PutNode: &types.Node{ID: "n3", Hostname: "n3"}},
	}}); err != nil {
		t.Fatal(err)
	}
	p := &recordingProposer{local: local}
	return &Server{Store: st, Proposer: p, Managers: func() []string { return []string{"10.0.0.1:2377"} },
		WaitReady: func(context.Context) error { return nil }}, p
}

func answer(t *testing.T, rec *httptest.ResponseRecorder, want int, v any) peer.ErrorBody {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body.String())
	}
	var eb peer.ErrorBody
	if rec.Code >= 300 {
		v = &eb
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("answer %q: %v", rec.Body.String(), err)
	}
	return eb
}

// TestServerSession: a node gets its own session, with what its plugins
// need of the swarm, and nobody else's.
func TestServerSession(t *testing.T) {
	s, _ := newServer(t)
	n1 := pki.NodeIdentity{NodeID: "n1", Role: pki.RoleWorker}

	rec := httptest.NewRecorder()
	s.Session(rec, httptest.NewRequest(http.MethodGet, peer.PathSession+"?node=n1", nil), n1)
	var got peer.Session
	answer(t, rec, http.StatusOK, &got)
	if got.Index != s.Store.Index() || got.Node == nil || got.Node.ID != "n1" || len(got.Tasks) != 1 || got.Tasks[0].ID != "a1" {
		t.Fatalf("session %+v, want n1's node and task a1 at index %d", got, s.Store.Index())
	}
	if len(got.Managers) != 1 || got.Managers[0] != "10.0.0.1:2377" || len(got.Serving) != 1 || got.Serving[0].ID != "a1" ||
		!got.Plugins["ingress"] || got.DataPathPort != 4790 || len(got.Services) != 0 || len(got.Nodes) != 3 {
		t.Fatalf("session %+v: wrong swarm view", got)
	}

	// A node without tasks gets an empty list, not null.
	rec = httptest.NewRecorder()
	s.Session(rec, httptest.NewRequest(http.MethodGet, peer.PathSession+"?node=n3", nil), pki.NodeIdentity{NodeID: "n3"})
	if !strings.Contains(rec.Body.String(), `"Tasks":[]`) {
		t.Fatalf("session of a node without tasks: %s", rec.Body.String())
	}

	rec = httptest.NewRecorder()
	s.Session(rec, httptest.NewRequest(http.MethodGet, peer.PathSession+"?node=n2", nil), n1)
	if eb := answer(t, rec, http.StatusForbidden, nil); eb.Code != peer.CodeForbidden || !strings.Contains(eb.Message, "its own session") {
		t.Fatalf("another node's session: %+v", eb)
	}

	// Not caught up in time: the worker is told, as unavailable (it tries
	// another manager).
	s.WaitReady = func(context.Context) error { return store.Errorf(api.ErrUnavailable, "no leader") }
	rec = httptest.NewRecorder()
	s.Session(rec, httptest.NewRequest(http.MethodGet, peer.PathSession+"?node=n1&wait=1", nil), n1)
	if eb := answer(t, rec, http.StatusServiceUnavailable, nil); eb.Code != peer.CodeUnavailable || eb.Message != "no leader" {
		t.Fatalf("not ready: %+v", eb)
	}
}

// TestServerStatus: a node's reports are committed; another node's task,
// or a body that does not decode, is refused and nothing is proposed.
func TestServerStatus(t *testing.T) {
	s, p := newServer(t)
	n1 := pki.NodeIdentity{NodeID: "n1", Role: pki.RoleWorker}
	post := func(body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.Status(rec, httptest.NewRequest(http.MethodPost, peer.PathStatus, strings.NewReader(body)), n1)
		return rec
	}
	report := func(task, node string) string {
		b, _ := json.Marshal(peer.StatusReport{Updates: []store.TaskStatusFrom{{TaskID: task, NodeID: node,
			Status: types.TaskStatus{State: types.TaskFailed, Timestamp: time.Now()}}}})
		return string(b)
	}
	if eb := answer(t, post(report("b1", "n2")), http.StatusForbidden, nil); eb.Code != peer.CodeForbidden {
		t.Fatalf("another node's task: %+v", eb)
	}
	if eb := answer(t, post(`{"Updates":[],"Extra":1}`), http.StatusBadRequest, nil); eb.Code != peer.CodeBadRequest {
		t.Fatalf("unknown field: %+v", eb)
	}
	if len(p.cmds) != 0 {
		t.Fatalf("%d commands proposed for refused reports", len(p.cmds))
	}
	answer(t, post(report("a1", "n1")), http.StatusOK, &struct{}{})
	if len(p.cmds) != 1 || s.Store.View().Task("a1").Status.State != types.TaskFailed {
		t.Fatalf("own report: %d commands, task a1 %+v", len(p.cmds), s.Store.View().Task("a1").Status)
	}
	// The proposer's error goes back with its kind.
	p.err = store.Errorf(store.ErrConflict, "changed concurrently")
	if eb := answer(t, post(report("a1", "n1")), http.StatusConflict, nil); eb.Code != peer.CodeConflict {
		t.Fatalf("proposer error: %+v", eb)
	}
}

// TestSessionWireIsPeerSession: the session the server writes, with its
// shared part encoded once and copied in, is byte for byte what encoding
// peer.Session gives; the shared part is built once per index and shared by every
// node's session, and rebuilt after a commit.
func TestSessionWireIsPeerSession(t *testing.T) {
	s, _ := newServer(t)
	if err := s.Proposer.Propose(context.Background(), &store.Command{Changes: []store.Change{{CreateService: &types.Service{ID: "s9",
		Spec: types.ServiceSpec{Name: "api", Replicas: 2, Container: types.ContainerSpec{Image: "x"}}}}}}); err != nil {
		t.Fatal(err)
	}
	v := s.Store.View()
	if len(v.Services()) == 0 || len(v.Networks()) == 0 && len(v.Nodes()) == 0 {
		t.Fatal("the fixture has no swarm view to share")
	}
	for _, node := range []string{"n1", "n3", "nosuch"} {
		got, err := s.session(v, node, false)
		if err != nil {
			t.Fatal(err)
		}
		b, err := got.encode()
		if err != nil {
			t.Fatal(err)
		}
		if mb, err := json.Marshal(got); err != nil || !bytes.Equal(mb, b) {
			t.Fatalf("encode and json.Marshal of the session disagree:\n%s\n%s (%v)", b, mb, err)
		}
		want := peer.Session{Index: v.Index, Node: v.Node(node), Tasks: v.TasksOnNode(node), Managers: s.Managers(),
			Services: v.Services(), Serving: serving(v), Plugins: v.PluginSwitches(), Networks: v.Networks(), Nodes: v.Nodes()}
		if want.Tasks == nil {
			want.Tasks = []*types.Task{}
		}
		if c := v.Cluster(); c != nil {
			want.DataPathPort = c.DataPathPort
		}
		wb, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, wb) {
			t.Fatalf("session of %s:\n%s\nwant\n%s", node, b, wb)
		}
	}
	a, _ := s.session(v, "n1", false)
	b, _ := s.session(v, "n3", false)
	if a.sharedPart != b.sharedPart {
		t.Fatal("two sessions at one index built the shared part twice")
	}
	if err := s.Proposer.Propose(context.Background(), &store.Command{Changes: []store.Change{{PutNode: &types.Node{ID: "n9", Hostname: "h9"}}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := s.session(s.Store.View(), "n1", false)
	if c.sharedPart == a.sharedPart || !strings.Contains(string(c.Nodes), `"n9"`) {
		t.Fatalf("after a commit the shared part is not rebuilt: %s", c.Nodes)
	}
}

// TestSessionViewOwn: a session asked with view=own holds the node's own
// record and tasks and nothing of the rest of the swarm.
func TestSessionViewOwn(t *testing.T) {
	s, _ := newServer(t)
	if err := s.Proposer.Propose(context.Background(), &store.Command{Changes: []store.Change{{CreateService: &types.Service{ID: "s9",
		Spec: types.ServiceSpec{Name: "api", Replicas: 2, Container: types.ContainerSpec{Image: "x"}}}}}}); err != nil {
		t.Fatal(err)
	}
	v := s.Store.View()
	out, b := onWire(t, s, v, "n1", true, 0)
	if out.Node == nil || out.Node.ID != "n1" || len(out.Tasks) != len(v.TasksOnNode("n1")) || len(out.Managers) == 0 {
		t.Fatalf("own view lacks the node's own part: %s", b)
	}
	if out.Services != nil || out.Serving != nil || out.Networks != nil || out.Nodes != nil || out.Plugins != nil {
		t.Fatalf("own view holds the swarm's: %s", b)
	}
	full, _ := s.session(v, "n1", false)
	if full.Services == nil {
		t.Fatal("the fixture has no services to leave out")
	}
}

// TestSessionDelta: a delta session names every task of the node but
// carries only those written since the index asked from; merged into the
// session before, it gives the whole list again.
func TestSessionDelta(t *testing.T) {
	st := store.New()
	apply := applier(t, st)
	apply(store.Change{PutNode: &types.Node{ID: "w1", Hostname: "w1"}},
		store.Change{CreateService: &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", Replicas: 3}}},
		store.Change{CreateTask: &types.Task{ID: "t1", ServiceID: "s1", Slot: 1, NodeID: "w1", DesiredState: types.TaskRunning}},
		store.Change{CreateTask: &types.Task{ID: "t2", ServiceID: "s1", Slot: 2, NodeID: "w1", DesiredState: types.TaskRunning}},
		store.Change{CreateTask: &types.Task{ID: "t3", ServiceID: "s1", Slot: 3, NodeID: "w1", DesiredState: types.TaskRunning}})
	s := &Server{Store: st, Managers: func() []string { return []string{"m:2377"} }}
	before, err := s.session(st.View(), "w1", true)
	if err != nil {
		t.Fatal(err)
	}
	from := st.Index()
	apply(store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: "t2", NodeID: "w1",
		Status: types.TaskStatus{State: types.TaskRunning, Timestamp: time.Now()}}})
	apply(store.Change{DeleteTask: "t3"})
	apply(store.Change{CreateTask: &types.Task{ID: "t4", ServiceID: "s1", Slot: 3, NodeID: "w1", DesiredState: types.TaskRunning}})
	got, _ := onWire(t, s, st.View(), "w1", true, from)
	ids := func(ts []*types.Task) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return strings.Join(out, ",")
	}
	if !got.Delta || ids(got.Tasks) != "t2,t4" || strings.Join(got.TaskIDs, ",") != "t1,t2,t4" {
		t.Fatalf("delta = %v, tasks %s, IDs %v; want true, t2,t4, t1,t2,t4", got.Delta, ids(got.Tasks), got.TaskIDs)
	}
	merged := merge(before.Tasks, got.Tasks, got.TaskIDs)
	if ids(merged) != "t1,t2,t4" || merged[1].Status.State != types.TaskRunning {
		t.Fatalf("merged = %s (t2 %s), want t1,t2,t4 with t2 running", ids(merged), merged[1].Status.State)
	}
}

// onWire is node's session as of v as the server writes it (own: its own
// view; since > 0: a delta from that index), read back as a worker reads
// it, and its bytes.
func onWire(t *testing.T, s *Server, v *store.ReadTx, node string, own bool, since uint64) (peer.Session, []byte) {
	t.Helper()
	w, err := s.session(v, node, own)
	if err != nil {
		t.Fatal(err)
	}
	if since > 0 {
		w.delta(since)
	}
	b, err := w.encode()
	if err != nil {
		t.Fatal(err)
	}
	var out peer.Session
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out, b
}

// applier applies each call's changes to st as one command, at the next
// log index.
func applier(t *testing.T, st *store.Store) func(changes ...store.Change) {
	return func(changes ...store.Change) {
		t.Helper()
		if err := st.Apply(st.Index()+1, &store.Command{Time: time.Now(), Changes: changes}); err != nil {
			t.Fatal(err)
		}
	}
}
