package store

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"sw/cluster/types"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// harness applies commands at consecutive indexes with a fixed clock.
type harness struct {
	t   *testing.T
	st  *Store
	now time.Time
}

func newHarness(t *testing.T) *harness { return &harness{t: t, st: New(), now: t0} }

func (h *harness) try(changes ...Change) error {
	h.t.Helper()
	h.now = h.now.Add(time.Second)
	return h.st.Apply(h.st.Index()+1, &Command{Time: h.now, Changes: changes})
}

func (h *harness) must(changes ...Change) {
	h.t.Helper()
	if err := h.try(changes...); err != nil {
		h.t.Fatalf("apply: %v", err)
	}
}

func (h *harness) task(id string) *types.Task {
	h.t.Helper()
	tk := h.st.View().Task(id)
	if tk == nil {
		h.t.Fatalf("task %s missing", id)
	}
	return tk
}

func svc(id, name string) *types.Service {
	return &types.Service{ID: id, Spec: types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: 1,
		Container: types.ContainerSpec{Image: "nginx"}}}
}

func newTask(id, serviceID, nodeID string) *types.Task {
	return &types.Task{ID: id, ServiceID: serviceID, ServiceName: "web", Slot: 1, NodeID: nodeID,
		SpecVersion: 1, DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskNew}}
}

func node(id, host string) *types.Node {
	return &types.Node{ID: id, Hostname: host, Role: types.RoleWorker, Availability: types.AvailabilityActive, State: types.NodeReady}
}

func status(taskID, nodeID string, s types.TaskState) Change {
	return Change{TaskStatus: &TaskStatusFrom{TaskID: taskID, NodeID: nodeID, Status: types.TaskStatus{State: s, Timestamp: t0}}}
}

func TestApplyEachChange(t *testing.T) {
	h := newHarness(t)

	// PutCluster: created, then updated keeping CreatedAt.
	h.must(Change{PutCluster: &types.Cluster{ID: "c1", TaskHistoryLimit: 5}})
	c := h.st.View().Cluster()
	if c == nil || c.Version != 1 || !c.CreatedAt.Equal(h.now) || c.TaskHistoryLimit != 5 {
		t.Fatalf("cluster after put: %+v", c)
	}
	created := c.CreatedAt
	h.must(Change{PutCluster: &types.Cluster{ID: "c1", TaskHistoryLimit: 2}})
	c = h.st.View().Cluster()
	if c.Version != 2 || !c.CreatedAt.Equal(created) || !c.UpdatedAt.Equal(h.now) || c.TaskHistoryLimit != 2 {
		t.Fatalf("cluster after update: %+v", c)
	}

	// PutNode: created, then replaced keeping CreatedAt.
	h.must(Change{PutNode: node("n1", "host1")})
	n := h.st.View().Node("n1")
	if n == nil || n.Version != 3 || !n.CreatedAt.Equal(h.now) {
		t.Fatalf("node after put: %+v", n)
	}
	created = n.CreatedAt
	upd := node("n1", "host1")
	upd.Availability = types.AvailabilityDrain
	h.must(Change{PutNode: upd})
	n = h.st.View().Node("n1")
	if n.Version != 4 || !n.CreatedAt.Equal(created) || n.Availability != types.AvailabilityDrain {
		t.Fatalf("node after update: %+v", n)
	}
	if upd.Version != 0 {
		t.Error("Apply modified the command's node")
	}

	// CreateService: SpecVersion 1, stamped.
	s := svc("s1", "web")
	s.SpecVersion = 7
	s.PreviousSpec = &types.ServiceSpec{Name: "junk"}
	h.must(Change{CreateService: s})
	got := h.st.View().Service("s1")
	if got == nil || got.SpecVersion != 1 || got.Version != 5 || !got.CreatedAt.Equal(h.now) || got.PreviousSpec != nil {
		t.Fatalf("service after create: %+v", got)
	}

	// UpdateService: spec replaced, previous kept, version checked.
	u := *got
	u.Spec.Replicas = 3
	u.SpecVersion = 2
	h.must(Change{UpdateService: &u})
	got = h.st.View().Service("s1")
	if got.Spec.Replicas != 3 || got.SpecVersion != 2 || got.PreviousSpec == nil || got.PreviousSpec.Replicas != 1 ||
		got.Version != 6 || !got.CreatedAt.Equal(h.st.View().Service("s1").CreatedAt) {
		t.Fatalf("service after update: %+v", got)
	}
	// An update that does not bump SpecVersion keeps it; one that would lower it cannot.
	u = *got
	u.Spec.Labels = map[string]string{"a": "b"}
	u.SpecVersion = 0
	h.must(Change{UpdateService: &u})
	if got = h.st.View().Service("s1"); got.SpecVersion != 2 || got.Spec.Labels["a"] != "b" {
		t.Fatalf("SpecVersion went to %d, want 2 kept", got.SpecVersion)
	}

	// CreateTask: stamped, status time defaulted, creation index recorded.
	h.must(Change{CreateTask: newTask("t1", "s1", "")})
	tk := h.task("t1")
	if tk.Version != 8 || tk.CreatedIndex != 8 || !tk.Status.Timestamp.Equal(h.now) || !tk.CreatedAt.Equal(h.now) {
		t.Fatalf("task after create: %+v", tk)
	}

	// AssignTask.
	h.must(Change{AssignTask: &TaskAssignment{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}})
	tk = h.task("t1")
	if tk.NodeID != "n1" || tk.Status.State != types.TaskAssigned || !tk.Status.Timestamp.Equal(h.now) || tk.CreatedIndex != 8 {
		t.Fatalf("task after assign: %+v", tk)
	}
	if on := h.st.View().TasksOnNode("n1"); len(on) != 1 || on[0].ID != "t1" {
		t.Fatalf("TasksOnNode(n1) = %v", on)
	}

	// TaskStatus.
	h.must(status("t1", "n1", types.TaskRunning))
	if tk = h.task("t1"); tk.Status.State != types.TaskRunning || tk.Version != 10 {
		t.Fatalf("task after status: %+v", tk)
	}

	// TaskDesired.
	h.must(Change{TaskDesired: &TaskDesiredFrom{TaskID: "t1", State: types.TaskShutdown}})
	if tk = h.task("t1"); tk.DesiredState != types.TaskShutdown {
		t.Fatalf("task after desire: %+v", tk)
	}
	// Backwards desire is dropped, not an error.
	h.must(Change{TaskDesired: &TaskDesiredFrom{TaskID: "t1", State: types.TaskRunning}})
	if tk = h.task("t1"); tk.DesiredState != types.TaskShutdown || tk.Version != 11 {
		t.Fatalf("backwards desire applied: %+v", tk)
	}
	// Desire for a missing task is dropped.
	h.must(Change{TaskDesired: &TaskDesiredFrom{TaskID: "nope", State: types.TaskRemove}})

	// DeleteTask, DeleteService, DeleteNode; deleting twice is fine.
	h.must(Change{DeleteTask: "t1"})
	h.must(Change{DeleteTask: "t1"})
	h.must(Change{DeleteService: "s1"})
	h.must(Change{DeleteService: "s1"})
	h.must(Change{DeleteNode: "n1"})
	h.must(Change{DeleteNode: "n1"})
	v := h.st.View()
	if v.Task("t1") != nil || v.Service("s1") != nil || v.ServiceByName("web") != nil || v.Node("n1") != nil {
		t.Fatal("deletes did not delete")
	}
	if len(v.TasksOfService("s1")) != 0 || len(v.TasksOnNode("n1")) != 0 {
		t.Fatal("indexes still list deleted tasks")
	}

	// An empty change is refused.
	if err := h.try(Change{}); !errors.Is(err, errEmptyChange) {
		t.Fatalf("empty change: %v", err)
	}
}

func TestServiceNameUnique(t *testing.T) {
	h := newHarness(t)
	h.must(Change{CreateService: svc("s1", "web")}, Change{CreateService: svc("s2", "db")})

	if err := h.try(Change{CreateService: svc("s3", "web")}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("duplicate name on create: %v", err)
	}
	if err := h.try(Change{CreateService: svc("s1", "other")}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate ID on create: %v", err)
	}
	// Two services of one name in one batch.
	if err := h.try(Change{CreateService: svc("s4", "cache")}, Change{CreateService: svc("s5", "cache")}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("duplicate name in a batch: %v", err)
	}
	if h.st.View().Service("s4") != nil {
		t.Fatal("failed batch left s4 behind")
	}

	// Rename onto a taken name fails.
	s2 := *h.st.View().Service("s2")
	s2.Spec.Name = "web"
	if err := h.try(Change{UpdateService: &s2}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("rename onto taken name: %v", err)
	}
	if got := h.st.View().ServiceByName("web"); got == nil || got.ID != "s1" {
		t.Fatalf("web now names %+v", got)
	}
	// Rename to a free name frees the old one.
	s2 = *h.st.View().Service("s2")
	s2.Spec.Name = "database"
	h.must(Change{UpdateService: &s2})
	v := h.st.View()
	if v.ServiceByName("db") != nil || v.ServiceByName("database") == nil {
		t.Fatal("rename did not move the name")
	}
	h.must(Change{CreateService: svc("s6", "db")})
	// Deleting a service frees its name.
	h.must(Change{DeleteService: "s1"}, Change{CreateService: svc("s7", "web")})
	if got := h.st.View().ServiceByName("web"); got == nil || got.ID != "s7" {
		t.Fatalf("web now names %+v", got)
	}
	// Updating a missing service is not found.
	if err := h.try(Change{UpdateService: svc("zz", "zz")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of missing service: %v", err)
	}
}

func TestUpdateServiceConflictIsAllOrNothing(t *testing.T) {
	h := newHarness(t)
	h.must(Change{CreateService: svc("s1", "web")}, Change{PutNode: node("n1", "h1")})
	stale := *h.st.View().Service("s1")
	fresh := stale
	fresh.Spec.Replicas = 2
	fresh.SpecVersion = 2
	h.must(Change{UpdateService: &fresh})

	before := h.st.View()
	changed := h.st.Changed()
	idx := h.st.Index()
	stale.Spec.Replicas = 9
	stale.SpecVersion = 2
	err := h.try(
		Change{CreateTask: newTask("t1", "s1", "")},
		Change{PutNode: node("n2", "h2")},
		Change{DeleteNode: "n1"},
		Change{UpdateService: &stale},
	)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	after := h.st.View()
	if after.Task("t1") != nil || after.Node("n2") != nil || after.Node("n1") == nil {
		t.Fatal("a failed batch left some of its changes applied")
	}
	if got := after.Service("s1"); got.Spec.Replicas != 2 || got.Version != before.Service("s1").Version {
		t.Fatalf("service changed by a failed update: %+v", got)
	}
	// The failed command consumes its index and wakes waiters.
	if h.st.Index() != idx+1 {
		t.Fatalf("index %d after failed command, want %d", h.st.Index(), idx+1)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed by a failed command")
	}
}

func TestTaskStatusRules(t *testing.T) {
	h := newHarness(t)
	h.must(Change{CreateService: svc("s1", "web")}, Change{PutNode: node("n1", "h1")}, Change{PutNode: node("n2", "h2")},
		Change{CreateTask: newTask("t1", "s1", "")})
	h.must(Change{AssignTask: &TaskAssignment{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}})

	withCID := status("t1", "n1", types.TaskStarting)
	withCID.TaskStatus.Status.ContainerID = "c123"
	withCID.TaskStatus.Status.Addr = "10.0.0.5"
	h.must(withCID)

	// Running without container ID and address keeps them.
	h.must(status("t1", "n1", types.TaskRunning))
	tk := h.task("t1")
	if tk.Status.State != types.TaskRunning || tk.Status.ContainerID != "c123" || tk.Status.Addr != "10.0.0.5" {
		t.Fatalf("running: %+v", tk.Status)
	}
	version := tk.Version

	dropped := []struct {
		name   string
		change Change
	}{
		{"backwards", status("t1", "n1", types.TaskStarting)},
		{"same state", status("t1", "n1", types.TaskRunning)},
		{"from another node", status("t1", "n2", types.TaskFailed)},
		{"from no node", status("t1", "", types.TaskFailed)},
		{"for a missing task", status("gone", "n1", types.TaskFailed)},
	}
	for _, d := range dropped {
		if err := h.try(d.change); err != nil {
			t.Fatalf("%s: error %v, want dropped silently", d.name, err)
		}
		if tk := h.task("t1"); tk.Status.State != types.TaskRunning || tk.Version != version {
			t.Fatalf("%s: applied: %+v", d.name, tk.Status)
		}
	}

	// Terminal: the address goes, the container ID stays; nothing moves it after.
	h.must(status("t1", "n1", types.TaskFailed))
	tk = h.task("t1")
	if tk.Status.State != types.TaskFailed || tk.Status.ContainerID != "c123" || tk.Status.Addr != "" {
		t.Fatalf("failed: %+v", tk.Status)
	}
	for _, s := range []types.TaskState{types.TaskRunning, types.TaskShutdown, types.TaskRemove, types.TaskOrphaned} {
		h.must(status("t1", "n1", s))
		if got := h.task("t1").Status.State; got != types.TaskFailed {
			t.Fatalf("moved out of FAILED to %v", got)
		}
	}

	// A deleted task's late report is dropped, and does not resurrect it.
	h.must(Change{DeleteTask: "t1"})
	h.must(status("t1", "n1", types.TaskOrphaned))
	if h.st.View().Task("t1") != nil {
		t.Fatal("status report resurrected a deleted task")
	}
}

func TestAssignTask(t *testing.T) {
	h := newHarness(t)
	h.must(Change{CreateService: svc("s1", "web")},
		Change{CreateTask: newTask("t1", "s1", "")},
		Change{CreateTask: newTask("t2", "s1", "")},
		Change{CreateTask: newTask("t3", "s1", "")})

	pending := func(id, msg string) Change {
		return Change{AssignTask: &TaskAssignment{TaskID: id, Status: types.TaskStatus{State: types.TaskPending, Err: msg}}}
	}
	assign := func(id, nodeID string) Change {
		return Change{AssignTask: &TaskAssignment{TaskID: id, NodeID: nodeID, Status: types.TaskStatus{State: types.TaskAssigned}}}
	}

	// NEW -> PENDING with a reason, then PENDING -> PENDING with a new reason.
	h.must(pending("t1", "no nodes"))
	if tk := h.task("t1"); tk.Status.State != types.TaskPending || tk.Status.Err != "no nodes" || tk.NodeID != "" {
		t.Fatalf("pending: %+v", tk)
	}
	h.must(pending("t1", "1 node not available"))
	if tk := h.task("t1"); tk.Status.Err != "1 node not available" {
		t.Fatalf("pending reason not updated: %+v", tk.Status)
	}
	// PENDING -> ASSIGNED.
	h.must(assign("t1", "n1"))
	if tk := h.task("t1"); tk.Status.State != types.TaskAssigned || tk.NodeID != "n1" {
		t.Fatalf("assigned: %+v", tk)
	}
	// Already assigned: a second assignment or a pending is dropped.
	h.must(assign("t1", "n2"), pending("t1", "x"))
	if tk := h.task("t1"); tk.NodeID != "n1" || tk.Status.State != types.TaskAssigned {
		t.Fatalf("reassigned: %+v", tk)
	}
	// Running tasks are not pulled back.
	h.must(status("t1", "n1", types.TaskRunning), assign("t1", "n2"))
	if tk := h.task("t1"); tk.NodeID != "n1" || tk.Status.State != types.TaskRunning {
		t.Fatalf("running task reassigned: %+v", tk)
	}
	// A task told to stop before the assignment lands is not placed.
	h.must(Change{TaskDesired: &TaskDesiredFrom{TaskID: "t2", State: types.TaskShutdown}})
	h.must(assign("t2", "n1"))
	if tk := h.task("t2"); tk.NodeID != "" || tk.Status.State != types.TaskNew {
		t.Fatalf("stopped task placed: %+v", tk)
	}
	// Missing task: dropped.
	h.must(assign("gone", "n1"))
	// NEW -> ASSIGNED directly, several in a batch.
	h.must(assign("t3", "n2"))
	if tk := h.task("t3"); tk.NodeID != "n2" {
		t.Fatalf("t3: %+v", tk)
	}
}

func TestFind(t *testing.T) {
	h := newHarness(t)
	h.must(
		Change{CreateService: svc("abc111", "web")},
		Change{CreateService: svc("abc222", "db")},
		Change{CreateService: svc("xyz333", "abc")}, // a name that is also a prefix of IDs
		Change{PutNode: node("nd1aaa", "alpha")},
		Change{PutNode: node("nd1bbb", "beta")},
		Change{PutNode: node("nd2ccc", "beta")},
		Change{PutNode: node("nd3ddd", "nd1")}, // a hostname that is also a prefix
		Change{CreateTask: newTask("tk1aaa", "abc111", "")},
		Change{CreateTask: newTask("tk1bbb", "abc111", "")},
		Change{CreateTask: newTask("tk2ccc", "abc111", "")},
	)
	v := h.st.View()

	type result struct {
		id        string
		notFound  bool
		ambiguous bool
	}
	check := func(t *testing.T, got string, err error, want result) {
		t.Helper()
		switch {
		case want.notFound:
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %q, %v; want not found", got, err)
			}
		case want.ambiguous:
			if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "ambiguous") {
				t.Fatalf("got %q, %v; want ambiguous", got, err)
			}
		default:
			if err != nil || got != want.id {
				t.Fatalf("got %q, %v; want %s", got, err, want.id)
			}
		}
	}

	services := []struct {
		ref  string
		want result
	}{
		{"abc111", result{id: "abc111"}},
		{"web", result{id: "abc111"}},
		{"abc2", result{id: "abc222"}},
		{"abc", result{id: "xyz333"}}, // name beats prefix
		{"ab", result{ambiguous: true}},
		{"xyz", result{id: "xyz333"}},
		{"nope", result{notFound: true}},
		{"", result{notFound: true}},
	}
	for _, c := range services {
		t.Run("service/"+c.ref, func(t *testing.T) {
			s, err := v.FindService(c.ref)
			id := ""
			if s != nil {
				id = s.ID
			}
			check(t, id, err, c.want)
		})
	}

	nodes := []struct {
		ref  string
		want result
	}{
		{"nd1aaa", result{id: "nd1aaa"}},
		{"alpha", result{id: "nd1aaa"}},
		{"beta", result{ambiguous: true}},
		{"nd2", result{id: "nd2ccc"}},
		{"nd1", result{id: "nd3ddd"}}, // hostname beats prefix
		{"nd", result{ambiguous: true}},
		{"gamma", result{notFound: true}},
		{"", result{notFound: true}},
	}
	for _, c := range nodes {
		t.Run("node/"+c.ref, func(t *testing.T) {
			n, err := v.FindNode(c.ref)
			id := ""
			if n != nil {
				id = n.ID
			}
			check(t, id, err, c.want)
		})
	}
	if _, err := v.FindNode("beta"); err == nil || !strings.Contains(err.Error(), "nd1bbb, nd2ccc") {
		t.Errorf("ambiguous hostname error does not list the IDs: %v", err)
	}

	tasks := []struct {
		ref  string
		want result
	}{
		{"tk1aaa", result{id: "tk1aaa"}},
		{"tk2", result{id: "tk2ccc"}},
		{"tk1", result{ambiguous: true}},
		{"tk9", result{notFound: true}},
		{"web.1", result{notFound: true}},
	}
	for _, c := range tasks {
		t.Run("task/"+c.ref, func(t *testing.T) {
			tk, err := v.FindTask(c.ref)
			id := ""
			if tk != nil {
				id = tk.ID
			}
			check(t, id, err, c.want)
		})
	}

	var nf *NotFoundError
	if _, err := v.FindService("nope"); !errors.As(err, &nf) || nf.Kind != "service" || err.Error() != "no such service: nope" {
		t.Errorf("not-found error: %v", err)
	}
}

func TestViewIsASnapshot(t *testing.T) {
	h := newHarness(t)
	h.must(Change{PutNode: node("n1", "h1")})
	old := h.st.View()
	h.must(Change{PutNode: node("n2", "h2")}, Change{DeleteNode: "n1"})
	if len(old.Nodes()) != 1 || old.Node("n1") == nil || old.Index != 1 {
		t.Fatal("an old view saw a later commit")
	}
	if cur := h.st.View(); len(cur.Nodes()) != 1 || cur.Node("n2") == nil || cur.Index != 2 {
		t.Fatal("a new view missed a commit")
	}
}

func TestChangedClosesOnCommit(t *testing.T) {
	h := newHarness(t)
	ch := h.st.Changed()
	select {
	case <-ch:
		t.Fatal("closed before any commit")
	default:
	}
	if h.st.Changed() != ch {
		t.Fatal("Changed returned a new channel without a commit")
	}
	h.must(Change{PutNode: node("n1", "h1")})
	select {
	case <-ch:
	default:
		t.Fatal("not closed by a commit")
	}
	next := h.st.Changed()
	if next == ch {
		t.Fatal("Changed did not renew the channel")
	}
	select {
	case <-next:
		t.Fatal("the new channel is already closed")
	default:
	}

	// A waiter in another goroutine wakes.
	done := make(chan struct{})
	go func() {
		<-next
		close(done)
	}()
	h.must(Change{DeleteNode: "n1"})
	<-done
}

func TestLocalPropose(t *testing.T) {
	st := New()
	at := t0.Add(time.Hour)
	l := &Local{Store: st, Now: func() time.Time { return at }}
	ctx := context.Background()
	if err := l.Propose(ctx, &Command{Changes: []Change{{PutNode: node("n1", "h1")}}}); err != nil {
		t.Fatal(err)
	}
	if n := st.View().Node("n1"); n == nil || !n.CreatedAt.Equal(at) || n.Version != 1 {
		t.Fatalf("node: %+v", n)
	}
	if err := l.Propose(ctx, &Command{Changes: []Change{{CreateService: svc("s", "x")}, {CreateService: svc("t", "x")}}}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("Propose returned %v, want the command's error", err)
	}
	if st.Index() != 2 {
		t.Fatalf("index %d", st.Index())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Propose(cctx, &Command{Changes: []Change{{DeleteNode: "n1"}}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Propose: %v", err)
	}
	if st.View().Node("n1") == nil {
		t.Fatal("a cancelled proposal was applied")
	}
}

// memSink is a raft.SnapshotSink backed by a buffer.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string     { return "mem" }
func (s *memSink) Cancel() error  { s.cancelled = true; return nil }
func (s *memSink) Close() error   { s.closed = true; return nil }
func (s *memSink) Reader() *nopRC { return &nopRC{bytes.NewReader(s.Bytes())} }

type nopRC struct{ *bytes.Reader }

func (nopRC) Close() error { return nil }

func TestFSMSnapshotRestore(t *testing.T) {
	h := newHarness(t)
	exit := 3
	h.must(Change{PutCluster: &types.Cluster{ID: "c1", TaskHistoryLimit: 3}},
		Change{PutNode: node("n1", "h1")}, Change{PutNode: node("n2", "h2")})
	s := svc("s1", "web")
	s.Spec.Labels = map[string]string{"tier": "front"}
	s.Spec.Ports = []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"}}
	h.must(Change{CreateService: s}, Change{CreateService: svc("s2", "db")})
	u := *h.st.View().Service("s1")
	u.Spec.Replicas = 2
	u.SpecVersion = 2
	h.must(Change{UpdateService: &u})
	h.must(Change{CreateTask: newTask("t1", "s1", "")}, Change{CreateTask: newTask("t2", "s1", "")}, Change{CreateTask: newTask("t3", "s2", "")})
	h.must(Change{AssignTask: &TaskAssignment{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}})
	fail := status("t1", "n1", types.TaskFailed)
	fail.TaskStatus.Status.ExitCode = &exit
	fail.TaskStatus.Status.Err = "boom"
	h.must(fail)

	fsm := &FSM{Store: h.st}
	snap, err := fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Changes after the snapshot do not leak into it.
	h.must(Change{DeleteTask: "t2"})
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed=%v cancelled=%v", sink.closed, sink.cancelled)
	}

	restored := New()
	changed := restored.Changed()
	if err := (&FSM{Store: restored}).Restore(sink.Reader()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Restore did not wake waiters")
	}
	want, got := h.st.View(), restored.View()
	if got.Index != want.Index-1 {
		t.Fatalf("restored index %d, want %d", got.Index, want.Index-1)
	}
	if got.Task("t2") == nil {
		t.Fatal("snapshot missed t2")
	}
	// Bring the original to the same point and compare everything.
	if err := restored.Apply(got.Index+1, &Command{Time: h.now, Changes: []Change{{DeleteTask: "t2"}}}); err != nil {
		t.Fatal(err)
	}
	got = restored.View()
	// The delete stamps nothing, so every object must be equal.
	for _, c := range []struct {
		name      string
		want, got any
	}{
		{"cluster", want.Cluster(), got.Cluster()},
		{"nodes", want.Nodes(), got.Nodes()},
		{"services", want.Services(), got.Services()},
		{"tasks", want.Tasks(), got.Tasks()},
		{"index", want.Index, got.Index},
	} {
		if !reflect.DeepEqual(c.want, c.got) {
			t.Errorf("%s differ after restore:\n want %#v\n got  %#v", c.name, c.want, c.got)
		}
	}
	// Indexes work on the restored store.
	if got.ServiceByName("web") == nil || len(got.TasksOfService("s1")) != 1 || len(got.TasksOnNode("n1")) != 1 {
		t.Fatal("restored indexes are broken")
	}
	if tk := got.Task("t1"); tk.Status.ExitCode == nil || *tk.Status.ExitCode != 3 {
		t.Fatalf("exit code lost: %+v", tk.Status)
	}
	// Name uniqueness still holds after restore.
	if err := restored.Apply(got.Index+1, &Command{Time: h.now, Changes: []Change{{CreateService: svc("s9", "web")}}}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("name check after restore: %v", err)
	}

	// A garbage snapshot is refused and leaves the store alone.
	if err := (&FSM{Store: restored}).Restore(nopRC{bytes.NewReader([]byte("{not json"))}); err == nil {
		t.Fatal("garbage snapshot accepted")
	}
	if restored.View().Service("s1") == nil {
		t.Fatal("failed restore wiped the store")
	}
}

type failSink struct{ memSink }

func (s *failSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPersistFailureCancels(t *testing.T) {
	snap, _ := (&FSM{Store: New()}).Snapshot()
	sink := &failSink{}
	if err := snap.Persist(sink); err == nil || !sink.cancelled {
		t.Fatalf("Persist on a failing sink: err=%v cancelled=%v", err, sink.cancelled)
	}
}

func TestFSMApply(t *testing.T) {
	st := New()
	fsm := &FSM{Store: st}
	cmd := &Command{Time: t0, Changes: []Change{{PutNode: node("n1", "h1")}, {CreateService: svc("s1", "web")}}}
	data, err := cmd.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if res := fsm.Apply(&raft.Log{Index: 7, Type: raft.LogCommand, Data: data}); res != nil {
		t.Fatalf("Apply: %v", res)
	}
	if st.Index() != 7 || st.View().Node("n1").Version != 7 || !st.View().Service("s1").CreatedAt.Equal(t0) {
		t.Fatal("log entry not applied at its index and time")
	}
	// The same create again (same service ID) is that service: success.
	if res := fsm.Apply(&raft.Log{Index: 8, Type: raft.LogCommand, Data: data}); res != nil {
		t.Fatalf("replayed create: %v", res)
	}
	if got := st.View().Service("s1").Version; got != 7 {
		t.Fatalf("the replayed create changed the service: version %d", got)
	}
	other, _ := (&Command{Time: t0, Changes: []Change{{CreateService: svc("s2", "web")}}}).Encode()
	if res := fsm.Apply(&raft.Log{Index: 8, Type: raft.LogCommand, Data: other}); !errors.Is(res.(error), ErrNameInUse) {
		t.Fatalf("another create of the name: %v", res)
	}
	if res := fsm.Apply(&raft.Log{Index: 9, Type: raft.LogCommand, Data: []byte("{")}); !errors.Is(res.(error), ErrBadCommand) {
		t.Fatalf("garbage entry: %v", res)
	}
	if res := fsm.Apply(&raft.Log{Index: 10, Type: raft.LogNoop}); res != nil {
		t.Fatalf("noop entry: %v", res)
	}
	// Round trip of a command through its encoding keeps every field.
	back, err := DecodeCommand(data)
	if err != nil || !reflect.DeepEqual(back, cmd) {
		t.Fatalf("decode: %v\n%#v\n%#v", err, back, cmd)
	}
}

// TestApplyIsDeterministic applies the same log to two stores and compares.
func TestApplyIsDeterministic(t *testing.T) {
	log := []*Command{
		{Time: t0, Changes: []Change{{PutNode: node("n1", "h1")}, {CreateService: svc("s1", "web")}}},
		{Time: t0.Add(time.Second), Changes: []Change{{CreateTask: newTask("t1", "s1", "")}}},
		{Time: t0.Add(2 * time.Second), Changes: []Change{{AssignTask: &TaskAssignment{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}}}},
		{Time: t0.Add(3 * time.Second), Changes: []Change{status("t1", "n1", types.TaskRunning)}},
	}
	a, b := New(), New()
	for i, c := range log {
		data, _ := c.Encode()
		ca, _ := DecodeCommand(data)
		cb, _ := DecodeCommand(data)
		if err := a.Apply(uint64(i+1), ca); err != nil {
			t.Fatal(err)
		}
		if err := b.Apply(uint64(i+1), cb); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(a.View().Tasks(), b.View().Tasks()) || !reflect.DeepEqual(a.View().Services(), b.View().Services()) {
		t.Fatal("same log, different state")
	}
}

// Later changes of a command see the tasks its earlier changes wrote, and
// a failing change discards them all.
func TestBatchSeesItsOwnTaskWrites(t *testing.T) {
	h := newHarness(t)
	h.must(Change{CreateService: svc("s1", "web")}, Change{CreateTask: newTask("old", "s1", "")})
	h.must(
		Change{CreateTask: newTask("t1", "s1", "")},
		Change{AssignTask: &TaskAssignment{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}},
		status("t1", "n1", types.TaskRunning),
		Change{TaskDesired: &TaskDesiredFrom{TaskID: "t1", State: types.TaskShutdown}},
		status("t1", "n1", types.TaskShutdown),
		Change{DeleteTask: "old"},
		status("old", "", types.TaskPending), // deleted earlier in the batch: dropped
		Change{CreateTask: newTask("t2", "s1", "")},
		Change{DeleteTask: "t2"},
		Change{CreateTask: func() *types.Task { tk := newTask("t2", "s1", ""); tk.Slot = 9; return tk }()},
	)
	v := h.st.View()
	tk := v.Task("t1")
	if tk == nil || tk.NodeID != "n1" || tk.Status.State != types.TaskShutdown || tk.DesiredState != types.TaskShutdown {
		t.Fatalf("t1: %+v", tk)
	}
	if v.Task("old") != nil {
		t.Fatal("old not deleted")
	}
	if t2 := v.Task("t2"); t2 == nil || t2.Slot != 9 {
		t.Fatalf("t2 not recreated: %+v", t2)
	}
	if n := len(v.TasksOfService("s1")); n != 2 {
		t.Fatalf("service index lists %d tasks, want 2", n)
	}
	if n := len(v.TasksOnNode("n1")); n != 1 {
		t.Fatalf("node index lists %d tasks, want 1", n)
	}
	// Creating a task twice in one batch fails, and the batch leaves nothing.
	err := h.try(Change{CreateTask: newTask("t3", "s1", "")}, Change{DeleteTask: "t1"}, Change{CreateTask: newTask("t3", "s1", "")})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("double create: %v", err)
	}
	if v := h.st.View(); v.Task("t3") != nil || v.Task("t1") == nil {
		t.Fatal("a failed batch left task changes behind")
	}
	// A task that exists before the batch cannot be created again.
	if err := h.try(Change{CreateTask: newTask("t1", "s1", "")}); !errors.Is(err, ErrExists) {
		t.Fatalf("create of an existing task: %v", err)
	}
}

func TestServiceAddrsUnique(t *testing.T) {
	h := newHarness(t)
	withAddrs := func(id, name, _ string, port uint16) *types.Service {
		s := svc(id, name)
		if port != 0 {
			s.Spec.Ports = []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: port}}
		}
		return s
	}
	h.must(Change{CreateService: withAddrs("s1", "web", "10.0.0.2", 8080)})
	tests := []struct {
		name string
		s    *types.Service
		ok   bool
	}{
		{"same published port", withAddrs("s2", "api", "10.0.0.3", 8080), false},
		{"other VIP and port", withAddrs("s2", "api", "10.0.0.3", 8081), true},
	}
	for _, tt := range tests {
		err := h.try(Change{CreateService: tt.s})
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrAddrInUse) {
			t.Fatalf("%s: err = %v", tt.name, err)
		}
	}
	// An update keeps its own addresses, but cannot take another's.
	s1 := *h.st.View().Service("s1")
	s1.Spec.Replicas = 3
	h.must(Change{UpdateService: &s1})
	s2 := *h.st.View().Service("s2")
	s2.Spec.Ports = []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080}}
	if err := h.try(Change{UpdateService: &s2}); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("update onto a taken port: %v", err)
	}
}
