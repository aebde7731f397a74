package dispatcher

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// remotePKI is a cluster CA with a manager and a worker key pair.
type remotePKI struct {
	ca              *pki.CA
	manager, worker tls.Certificate
}

func newRemotePKI(t *testing.T) *remotePKI {
	t.Helper()
	ca, err := pki.NewRootCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	issue := func(id, role string) tls.Certificate {
		certPEM, keyPEM, err := ca.IssueNodeCert(id, role, "c1", []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := pki.KeyPair(certPEM, keyPEM, ca.Cert)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	return &remotePKI{ca: ca, manager: issue("mgr", pki.RoleManager), worker: issue("n1", pki.RoleWorker)}
}

// client is the worker's peer client.
func (p *remotePKI) client() *peer.Client {
	return peer.NewClient(&peer.Dialer{TLS: func() *tls.Config { return pki.ClientTLS(p.ca.Cert, &p.worker) }})
}

// fakeManager is a manager's peer API, on a real peer mux with mutual
// TLS, that answers sessions as told and records what it was sent.
type fakeManager struct {
	addr string

	mu       sync.Mutex
	sessions []url.Values // queries of the session requests
	reports  []peer.StatusReport
	callers  []string // node IDs from the client certificates
	answer   func(q url.Values) (peer.Session, *peer.ErrorBody)
	hangUp   bool // cut every request off without an answer
	block    bool // hold every request until the caller gives up
}

func startFakeManager(t *testing.T, p *remotePKI) *fakeManager {
	t.Helper()
	m, err := peer.Listen("127.0.0.1:0", pki.ServerTLS(p.ca.Cert, p.manager, true), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	fm := &fakeManager{addr: m.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+peer.PathSession, fm.session)
	mux.HandleFunc("POST "+peer.PathStatus, fm.status)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(m.Listener(peer.KindAPI)) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = m.Close()
		<-done
	})
	return fm
}

func (fm *fakeManager) set(f func(fm *fakeManager)) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	f(fm)
}

// interfere records the caller and applies hangUp/block; true means the
// request was dealt with.
func (fm *fakeManager) interfere(w http.ResponseWriter, r *http.Request) bool {
	fm.mu.Lock()
	hangUp, block := fm.hangUp, fm.block
	if id, ok := pki.IdentityFromConnState(*r.TLS); ok {
		fm.callers = append(fm.callers, id.NodeID)
	}
	fm.mu.Unlock()
	switch {
	case hangUp:
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
		return true
	case block:
		<-r.Context().Done()
		// Returning would send an implicit 200 that can still reach a
		// client that has just given up; abort without an answer.
		panic(http.ErrAbortHandler)
	}
	return false
}

func (fm *fakeManager) session(w http.ResponseWriter, r *http.Request) {
	fm.mu.Lock()
	fm.sessions = append(fm.sessions, r.URL.Query())
	answer := fm.answer
	fm.mu.Unlock()
	if fm.interfere(w, r) {
		return
	}
	var s peer.Session
	var eb *peer.ErrorBody
	if answer != nil {
		s, eb = answer(r.URL.Query())
	}
	w.Header().Set("Content-Type", "application/json")
	if eb != nil {
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(eb)
		return
	}
	_ = json.NewEncoder(w).Encode(s)
}

func (fm *fakeManager) status(w http.ResponseWriter, r *http.Request) {
	var rep peer.StatusReport
	if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	fm.mu.Lock()
	fm.reports = append(fm.reports, rep)
	fm.mu.Unlock()
	if fm.interfere(w, r) {
		return
	}
	_ = json.NewEncoder(w).Encode(struct{}{})
}

func (fm *fakeManager) sessionQueries() []url.Values {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return append([]url.Values{}, fm.sessions...)
}

func (fm *fakeManager) statusReports() []peer.StatusReport {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return append([]peer.StatusReport{}, fm.reports...)
}

func (fm *fakeManager) requests() int {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return len(fm.sessions) + len(fm.reports)
}

// fixedSession answers every session with index idx, the given tasks and
// managers.
func fixedSession(idx uint64, managers []string, taskIDs ...string) func(url.Values) (peer.Session, *peer.ErrorBody) {
	return func(url.Values) (peer.Session, *peer.ErrorBody) {
		s := peer.Session{Index: idx, Managers: managers, Tasks: []*types.Task{}}
		for _, id := range taskIDs {
			s.Tasks = append(s.Tasks, &types.Task{ID: id, NodeID: "n1", DesiredState: types.TaskRunning})
		}
		return s, nil
	}
}

// remoteDeadAddr is a loopback address nothing listens on.
func remoteDeadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func remoteCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTestRemote(p *remotePKI, managers ...string) *Remote {
	return NewRemote("n1", p.client(), managers, slog.New(slog.DiscardHandler))
}

func taskIDs(tasks []*types.Task) []string {
	out := []string{}
	for _, tk := range tasks {
		out = append(out, tk.ID)
	}
	return out
}

// TestRemoteLongPoll: each session call waits past the index of the last
// one, and its answer (tasks, node, managers) reaches the agent and
// OnSession.
func TestRemoteLongPoll(t *testing.T) {
	p := newRemotePKI(t)
	m := startFakeManager(t, p)
	steps := []struct {
		index    uint64
		tasks    []string
		wantWait string // "" = no wait parameter
	}{
		{5, []string{"t1"}, ""},
		{9, []string{"t1", "t2"}, "5"},
		{12, []string{}, "9"},
		{12, []string{}, "12"},
	}
	r := newTestRemote(p, m.addr)
	var seen []uint64
	r.OnSession = func(s peer.Session) { seen = append(seen, s.Index) }
	for i, st := range steps {
		m.set(func(fm *fakeManager) { fm.answer = fixedSession(st.index, []string{m.addr}, st.tasks...) })
		tasks, changed, err := r.Assignments(remoteCtx(t))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := taskIDs(tasks); !reflect.DeepEqual(got, st.tasks) {
			t.Fatalf("step %d: tasks %v, want %v", i, got, st.tasks)
		}
		select {
		case <-changed:
		default:
			t.Fatalf("step %d: the changed channel is not closed", i)
		}
		q := m.sessionQueries()[i]
		if q.Get("node") != "n1" {
			t.Fatalf("step %d: node=%q", i, q.Get("node"))
		}
		if _, has := q["wait"]; has != (st.wantWait != "") || q.Get("wait") != st.wantWait {
			t.Fatalf("step %d: query %v, want wait=%q", i, q, st.wantWait)
		}
	}
	if want := []uint64{5, 9, 12, 12}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("OnSession saw %v, want %v", seen, want)
	}
	m.mu.Lock()
	callers := append([]string{}, m.callers...)
	m.mu.Unlock()
	for _, c := range callers {
		if c != "n1" {
			t.Fatalf("the manager saw caller %q, want the worker's certificate n1", c)
		}
	}
}

// TestRemoteFailover: a manager that cannot be reached, or that drops the
// request, is skipped; the manager that answers becomes the one to use,
// and the manager list of its session replaces the known one.
func TestRemoteFailover(t *testing.T) {
	p := newRemotePKI(t)
	b := startFakeManager(t, p)
	hung := startFakeManager(t, p)
	hung.set(func(fm *fakeManager) { fm.hangUp = true })
	dead := remoteDeadAddr(t)
	newList := []string{b.addr, "10.9.9.9:2377"}
	b.set(func(fm *fakeManager) { fm.answer = fixedSession(3, newList, "t1") })

	cases := []struct {
		name     string
		managers []string
	}{
		{"first manager down", []string{dead, b.addr}},
		{"first manager hangs up", []string{hung.addr, b.addr}},
		{"two down", []string{dead, hung.addr, b.addr}},
		{"the good one first", []string{b.addr, dead}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRemote(p, tc.managers...)
			var got peer.Session
			r.OnSession = func(s peer.Session) { got = s }
			before := len(b.sessionQueries())
			tasks, _, err := r.Assignments(remoteCtx(t))
			if err != nil {
				t.Fatalf("Assignments: %v", err)
			}
			if ids := taskIDs(tasks); !reflect.DeepEqual(ids, []string{"t1"}) {
				t.Fatalf("tasks %v", ids)
			}
			if n := len(b.sessionQueries()) - before; n != 1 {
				t.Fatalf("the live manager got %d session requests, want 1", n)
			}
			if ms := r.Managers(); !reflect.DeepEqual(ms, newList) {
				t.Fatalf("Managers() = %v, want %v", ms, newList)
			}
			if !reflect.DeepEqual(got.Managers, newList) || got.Index != 3 {
				t.Fatalf("OnSession saw %+v", got)
			}
			// The next call goes straight to the manager that answered.
			hungBefore := hung.requests()
			if err := r.Report(remoteCtx(t), nil); err != nil {
				t.Fatalf("Report: %v", err)
			}
			if hung.requests() != hungBefore {
				t.Fatal("the next call tried a failed manager again first")
			}
		})
	}
}

// TestRemoteKeepsListWithoutManagers: a session without a manager list
// leaves the known list as it is.
func TestRemoteKeepsListWithoutManagers(t *testing.T) {
	p := newRemotePKI(t)
	m := startFakeManager(t, p)
	m.set(func(fm *fakeManager) { fm.answer = fixedSession(1, nil) })
	dead := remoteDeadAddr(t)
	r := newTestRemote(p, dead, m.addr)
	if _, _, err := r.Assignments(remoteCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ms := r.Managers(); !reflect.DeepEqual(ms, []string{dead, m.addr}) {
		t.Fatalf("Managers() = %v", ms)
	}
	// It stays on the manager that answered.
	if _, _, err := r.Assignments(remoteCtx(t)); err != nil {
		t.Fatal(err)
	}
	if q := m.sessionQueries(); len(q) != 2 || q[1].Get("wait") != "1" {
		t.Fatalf("session queries %v", q)
	}
}

// TestRemotePeerErrorNotRetried: a manager that answers with an error has
// spoken; the others are not asked.
func TestRemotePeerErrorNotRetried(t *testing.T) {
	p := newRemotePKI(t)
	a := startFakeManager(t, p)
	b := startFakeManager(t, p)
	a.set(func(fm *fakeManager) {
		fm.answer = func(url.Values) (peer.Session, *peer.ErrorBody) {
			return peer.Session{}, &peer.ErrorBody{Message: "node n1 was removed", Code: "forbidden"}
		}
	})
	b.set(func(fm *fakeManager) { fm.answer = fixedSession(1, nil) })
	r := newTestRemote(p, a.addr, b.addr)
	tasks, _, err := r.Assignments(remoteCtx(t))
	var pe *peer.Error
	if !errors.As(err, &pe) || pe.Code != "forbidden" || pe.Status != http.StatusForbidden || pe.Message != "node n1 was removed" {
		t.Fatalf("err = %#v, want the manager's peer error", err)
	}
	if tasks != nil {
		t.Fatalf("tasks %v with an error", tasks)
	}
	if n := b.requests(); n != 0 {
		t.Fatalf("the second manager was asked %d times", n)
	}
	if ms := r.Managers(); !reflect.DeepEqual(ms, []string{a.addr, b.addr}) {
		t.Fatalf("Managers() = %v", ms)
	}
}

// TestRemoteAllDown: with no manager answering the call fails, and the
// next one takes the state of whichever manager answers as it is (no
// wait on the old index).
func TestRemoteAllDown(t *testing.T) {
	p := newRemotePKI(t)
	m := startFakeManager(t, p)
	m.set(func(fm *fakeManager) { fm.answer = fixedSession(7, []string{m.addr}) })
	r := newTestRemote(p, m.addr)
	if _, _, err := r.Assignments(remoteCtx(t)); err != nil {
		t.Fatal(err)
	}
	m.set(func(fm *fakeManager) { fm.hangUp = true })
	_, _, err := r.Assignments(remoteCtx(t))
	var pe *peer.Error
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("err = %v, want a transport error", err)
	}
	m.set(func(fm *fakeManager) { fm.hangUp = false })
	if _, _, err := r.Assignments(remoteCtx(t)); err != nil {
		t.Fatal(err)
	}
	// (net/http may resend the dropped GET once on a fresh connection.)
	q := m.sessionQueries()
	if len(q) < 3 || q[1].Get("wait") != "7" {
		t.Fatalf("session queries %v", q)
	}
	if _, has := q[len(q)-1]["wait"]; has {
		t.Fatalf("after losing every manager the next session waited: %v", q[len(q)-1])
	}

	// No managers known at all.
	empty := newTestRemote(p)
	if _, _, err := empty.Assignments(remoteCtx(t)); err == nil {
		t.Fatal("Assignments with no managers succeeded")
	}
	if err := empty.Report(remoteCtx(t), nil); err == nil {
		t.Fatal("Report with no managers succeeded")
	}
}

// TestRemoteContextEnds: when the caller gives up, the call returns the
// context's error at once and tries nobody else.
func TestRemoteContextEnds(t *testing.T) {
	p := newRemotePKI(t)
	a := startFakeManager(t, p)
	b := startFakeManager(t, p)
	a.set(func(fm *fakeManager) { fm.block = true })
	b.set(func(fm *fakeManager) { fm.answer = fixedSession(1, nil) })
	r := newTestRemote(p, a.addr, b.addr)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := r.Assignments(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
	if n := b.requests(); n != 0 {
		t.Fatalf("the second manager was asked %d times after the caller gave up", n)
	}
}

// TestRemoteReport: status updates reach the manager as sent, failing over
// like sessions do; a manager's refusal comes back as is.
func TestRemoteReport(t *testing.T) {
	p := newRemotePKI(t)
	b := startFakeManager(t, p)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	updates := []store.TaskStatusFrom{
		{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskRunning, Timestamp: now, ContainerID: "c1"}},
		{TaskID: "t2", NodeID: "n1", Status: types.TaskStatus{State: types.TaskFailed, Timestamp: now, Err: "exit 1"}},
	}
	r := newTestRemote(p, remoteDeadAddr(t), b.addr)
	if err := r.Report(remoteCtx(t), updates); err != nil {
		t.Fatal(err)
	}
	reps := b.statusReports()
	if len(reps) != 1 {
		t.Fatalf("%d reports", len(reps))
	}
	if !reflect.DeepEqual(reps[0].Updates, updates) {
		t.Fatalf("reported %+v, want %+v", reps[0].Updates, updates)
	}

	// A refusal (here: the manager cannot decode the report) is the
	// manager's word.
	c := startFakeManager(t, p)
	r2 := newTestRemote(p, b.addr, c.addr)
	err := r2.Client.Do(remoteCtx(t), b.addr, http.MethodPost, peer.PathStatus, nil, "not a report", nil)
	var pe *peer.Error
	if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest {
		t.Fatalf("a bad report: %v", err)
	}
	b.set(func(fm *fakeManager) { fm.block = true })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r2.Report(ctx, updates); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Report on a stuck manager = %v", err)
	}
	if n := c.requests(); n != 0 {
		t.Fatalf("the other manager got %d requests", n)
	}
}
