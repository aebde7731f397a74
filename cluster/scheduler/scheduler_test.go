package scheduler

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func mkNode(id string, a types.Availability, s types.NodeState) *types.Node {
	return &types.Node{ID: id, Hostname: id, Availability: a, State: s}
}

func ready(ids ...string) []*types.Node {
	var out []*types.Node
	for _, id := range ids {
		out = append(out, mkNode(id, types.AvailabilityActive, types.NodeReady))
	}
	return out
}

// unplaced makes n new tasks of a service.
func unplaced(svc string, n int) []*types.Task {
	var out []*types.Task
	for i := range n {
		out = append(out, &types.Task{ID: fmt.Sprintf("%s-%03d", svc, i), ServiceID: svc, Slot: uint64(i + 1),
			DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskNew}})
	}
	return out
}

// placed makes n tasks of a service running on a node.
func placed(svc, node string, n int, state types.TaskState) []*types.Task {
	var out []*types.Task
	for i := range n {
		out = append(out, &types.Task{ID: fmt.Sprintf("%s-on-%s-%d", svc, node, i), ServiceID: svc, NodeID: node,
			DesiredState: types.TaskRunning, Status: types.TaskStatus{State: state}})
	}
	return out
}

func perNode(as []store.TaskAssignment) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		m[a.NodeID]++
	}
	return m
}

func order(as []store.TaskAssignment) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.NodeID)
	}
	return out
}

func TestSpread(t *testing.T) {
	as := Schedule(now, ready("n1", "n2", "n3"), unplaced("web", 7))
	if len(as) != 7 {
		t.Fatalf("%d assignments", len(as))
	}
	if got := perNode(as); !reflect.DeepEqual(got, map[string]int{"n1": 3, "n2": 2, "n3": 2}) {
		t.Errorf("spread %v, want 3/2/2", got)
	}
	if got := order(as); !reflect.DeepEqual(got, []string{"n1", "n2", "n3", "n1", "n2", "n3", "n1"}) {
		t.Errorf("order %v, want round robin by ID", got)
	}
	for i, a := range as {
		if a.TaskID != fmt.Sprintf("web-%03d", i) || a.Status.State != types.TaskAssigned || !a.Status.Timestamp.Equal(now) ||
			a.Status.Message == "" || a.Status.Err != "" {
			t.Errorf("assignment %d: %+v", i, a)
		}
	}
}

func TestSpreadCases(t *testing.T) {
	cat := func(lists ...[]*types.Task) []*types.Task {
		var out []*types.Task
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	cases := []struct {
		name      string
		nodes     []*types.Node
		tasks     []*types.Task
		wantOrder []string // node per assignment, in order; "" pending
	}{
		{
			name:      "fewer tasks overall wins a tie on the service",
			nodes:     ready("n1", "n2", "n3"),
			tasks:     cat(placed("other", "n1", 2, types.TaskRunning), placed("other", "n2", 1, types.TaskRunning), unplaced("web", 3)),
			wantOrder: []string{"n3", "n2", "n1"},
		},
		{
			name:      "the service's own spread comes first",
			nodes:     ready("n1", "n2"),
			tasks:     cat(placed("web", "n1", 1, types.TaskRunning), placed("other", "n2", 3, types.TaskRunning), unplaced("web", 1)),
			wantOrder: []string{"n2"},
		},
		{
			name:      "existing tasks of the service count",
			nodes:     ready("n1", "n2", "n3"),
			tasks:     cat(placed("web", "n1", 2, types.TaskRunning), placed("web", "n2", 1, types.TaskAssigned), unplaced("web", 3)),
			wantOrder: []string{"n3", "n2", "n3"},
		},
		{
			name:  "stopped, unwanted and unassigned tasks do not count",
			nodes: ready("n1", "n2"),
			tasks: cat(
				placed("web", "n1", 2, types.TaskFailed),
				placed("web", "n1", 1, types.TaskComplete),
				func() []*types.Task {
					ts := placed("web", "n1", 2, types.TaskRunning)
					for _, t := range ts {
						t.DesiredState = types.TaskShutdown
					}
					return ts
				}(),
				unplaced("web", 2),
			),
			wantOrder: []string{"n1", "n2"},
		},
		{
			name: "down, paused, drained and unknown nodes are skipped",
			nodes: []*types.Node{
				mkNode("a", types.AvailabilityActive, types.NodeDown),
				mkNode("b", types.AvailabilityPause, types.NodeReady),
				mkNode("c", types.AvailabilityDrain, types.NodeReady),
				mkNode("d", types.AvailabilityActive, types.NodeUnknown),
				mkNode("e", types.AvailabilityActive, types.NodeReady),
			},
			tasks:     unplaced("web", 3),
			wantOrder: []string{"e", "e", "e"},
		},
		{
			name:      "services are spread separately, totals shared",
			nodes:     ready("n1", "n2"),
			tasks:     cat(unplaced("a", 1), unplaced("b", 1), unplaced("c", 2)),
			wantOrder: []string{"n1", "n2", "n1", "n2"},
		},
		{
			name:      "no nodes",
			nodes:     nil,
			tasks:     unplaced("web", 2),
			wantOrder: []string{"", ""},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := order(Schedule(now, c.nodes, c.tasks))
			if !reflect.DeepEqual(got, c.wantOrder) {
				t.Errorf("placed on %q, want %q", got, c.wantOrder)
			}
		})
	}
}

func TestPendingMessages(t *testing.T) {
	cases := []struct {
		name  string
		nodes []*types.Node
		want  string
	}{
		{"no nodes", nil, "no suitable node (no nodes in the swarm)"},
		{"one unusable", []*types.Node{mkNode("a", types.AvailabilityDrain, types.NodeReady)},
			"no suitable node (1 node not available for new tasks)"},
		{"two unusable", []*types.Node{mkNode("a", types.AvailabilityDrain, types.NodeReady), mkNode("b", types.AvailabilityActive, types.NodeDown)},
			"no suitable node (2 nodes not available for new tasks)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := Schedule(now, c.nodes, unplaced("web", 1))
			if len(as) != 1 {
				t.Fatalf("%d assignments", len(as))
			}
			a := as[0]
			if a.NodeID != "" || a.Status.State != types.TaskPending || a.Status.Err != c.want || !a.Status.Timestamp.Equal(now) {
				t.Errorf("got %+v, want PENDING with %q", a, c.want)
			}
		})
	}
}

func TestPinned(t *testing.T) {
	nodes := []*types.Node{
		mkNode("n1", types.AvailabilityActive, types.NodeReady),
		mkNode("n2", types.AvailabilityPause, types.NodeReady),
		mkNode("n3", types.AvailabilityActive, types.NodeReady),
	}
	pin := func(id, node string) *types.Task {
		return &types.Task{ID: id, ServiceID: "g", NodeID: node, DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskNew}}
	}
	tasks := []*types.Task{pin("t1", "n1"), pin("t2", "n2"), pin("t3", "gone"), pin("t4", "n1")}
	// A replicated task after them sees the pinned ones in the totals.
	tasks = append(tasks, unplaced("web", 1)...)
	as := Schedule(now, nodes, tasks)
	got := map[string]store.TaskAssignment{}
	for _, a := range as {
		got[a.TaskID] = a
	}
	if a := got["t1"]; a.NodeID != "n1" || a.Status.State != types.TaskAssigned {
		t.Errorf("t1: %+v", a)
	}
	if a := got["t4"]; a.NodeID != "n1" {
		t.Errorf("t4 not kept on its node: %+v", a)
	}
	for _, id := range []string{"t2", "t3"} {
		if a := got[id]; a.NodeID != "" || a.Status.State != types.TaskPending || a.Status.Err == "" {
			t.Errorf("%s: %+v, want pending", id, a)
		}
	}
	if a := got["web-000"]; a.NodeID != "n3" {
		t.Errorf("replicated task went to %q, want n3 (n1 has two pinned tasks)", a.NodeID)
	}
}

func TestOnlyUnplacedTasks(t *testing.T) {
	tasks := []*types.Task{
		{ID: "running", ServiceID: "s", NodeID: "n1", DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskRunning}},
		{ID: "assigned", ServiceID: "s", NodeID: "n1", DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskAssigned}},
		{ID: "stop", ServiceID: "s", DesiredState: types.TaskShutdown, Status: types.TaskStatus{State: types.TaskNew}},
		{ID: "remove", ServiceID: "s", DesiredState: types.TaskRemove, Status: types.TaskStatus{State: types.TaskPending}},
		{ID: "pending", ServiceID: "s", DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskPending, Err: "x"}},
	}
	as := Schedule(now, ready("n1", "n2"), tasks)
	if len(as) != 1 || as[0].TaskID != "pending" || as[0].NodeID != "n2" {
		t.Fatalf("assignments %+v, want only the pending task, on n2", as)
	}
	if Schedule(now, ready("n1"), tasks[:4]) != nil {
		t.Error("assignments with nothing unplaced")
	}
	if !Unplaced(tasks[4]) || Unplaced(tasks[0]) || Unplaced(tasks[2]) {
		t.Error("Unplaced is wrong")
	}
}

func TestScheduleIsPure(t *testing.T) {
	nodes := ready("n1", "n2", "n3")
	tasks := append(placed("a", "n1", 2, types.TaskRunning), unplaced("b", 5)...)
	snapshot := func() string { return fmt.Sprintf("%+v %+v", derefN(nodes), derefT(tasks)) }
	before := snapshot()
	first := Schedule(now, nodes, tasks)
	if snapshot() != before {
		t.Fatal("Schedule modified its input")
	}
	for range 10 {
		if got := Schedule(now, nodes, tasks); !reflect.DeepEqual(got, first) {
			t.Fatal("Schedule is not deterministic")
		}
	}
}

func derefN(ns []*types.Node) []types.Node {
	var out []types.Node
	for _, n := range ns {
		out = append(out, *n)
	}
	return out
}

func derefT(ts []*types.Task) []types.Task {
	var out []types.Task
	for _, t := range ts {
		out = append(out, *t)
	}
	return out
}

func TestChanges(t *testing.T) {
	as := Schedule(now, ready("n1"), unplaced("s", 3))
	ch := Changes(as)
	if len(ch) != 3 {
		t.Fatalf("%d changes", len(ch))
	}
	for i, c := range ch {
		if c.AssignTask == nil || *c.AssignTask != as[i] {
			t.Errorf("change %d: %+v", i, c)
		}
	}
}

// fixture returns a store with the given nodes and tasks committed.
func fixture(t testing.TB, nodes []*types.Node, tasks []*types.Task) (*store.Store, *store.Local) {
	st := store.New()
	l := &store.Local{Store: st, Now: func() time.Time { return now }}
	var ch []store.Change
	for _, n := range nodes {
		ch = append(ch, store.Change{PutNode: n})
	}
	for _, tk := range tasks {
		ch = append(ch, store.Change{CreateTask: tk})
	}
	if err := l.Propose(context.Background(), &store.Command{Changes: ch}); err != nil {
		t.Fatal(err)
	}
	return st, l
}

func TestDropUnchangedPending(t *testing.T) {
	tasks := unplaced("s", 4)
	st, l := fixture(t, nil, tasks)
	// s-000 and s-001 are pending for "old", s-002 for the current reason.
	cur := Schedule(now, nil, tasks[2:3])[0].Status.Err
	err := l.Propose(context.Background(), &store.Command{Changes: []store.Change{
		{AssignTask: &store.TaskAssignment{TaskID: "s-000", Status: types.TaskStatus{State: types.TaskPending, Err: "old"}}},
		{AssignTask: &store.TaskAssignment{TaskID: "s-001", Status: types.TaskStatus{State: types.TaskPending, Err: "old"}}},
		{AssignTask: &store.TaskAssignment{TaskID: "s-002", Status: types.TaskStatus{State: types.TaskPending, Err: cur}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	v := st.View()
	as := []store.TaskAssignment{
		{TaskID: "s-000", Status: types.TaskStatus{State: types.TaskPending, Err: cur}},      // reason changed: kept
		{TaskID: "s-001", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}, // placed: kept
		{TaskID: "s-002", Status: types.TaskStatus{State: types.TaskPending, Err: cur}},      // same reason: dropped
		{TaskID: "s-003", Status: types.TaskStatus{State: types.TaskPending, Err: cur}},      // NEW -> PENDING: kept
		{TaskID: "gone", Status: types.TaskStatus{State: types.TaskPending, Err: cur}},       // unknown: kept (store drops it)
	}
	var got []string
	for _, a := range dropUnchangedPending(v, as) {
		got = append(got, a.TaskID)
	}
	if want := []string{"s-000", "s-001", "s-003", "gone"}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
}

func TestStepCommitsAndQuiesces(t *testing.T) {
	st, l := fixture(t, nil, unplaced("s", 3))
	s := &Scheduler{Store: st, Proposer: l, Now: func() time.Time { return now }}
	ctx := context.Background()

	// No nodes: pending once, then nothing more to commit.
	if _, err := s.step(ctx, st.View()); err != nil {
		t.Fatal(err)
	}
	idx := st.Index()
	for _, tk := range st.View().Tasks() {
		if tk.Status.State != types.TaskPending {
			t.Fatalf("%s: %v", tk.ID, tk.Status.State)
		}
	}
	if _, err := s.step(ctx, st.View()); err != nil || st.Index() != idx {
		t.Fatalf("the unchanged pending reason was committed again (err %v)", err)
	}

	// A node joins: all placed in one commit.
	if err := l.Propose(ctx, &store.Command{Changes: []store.Change{{PutNode: ready("n1")[0]}}}); err != nil {
		t.Fatal(err)
	}
	idx = st.Index()
	if _, err := s.step(ctx, st.View()); err != nil || st.Index() != idx+1 {
		t.Fatalf("step: err %v, index %d -> %d", err, idx, st.Index())
	}
	for _, tk := range st.View().Tasks() {
		if tk.NodeID != "n1" || tk.Status.State != types.TaskAssigned {
			t.Fatalf("%s: %+v", tk.ID, tk)
		}
	}
	if _, err := s.step(ctx, st.View()); err != nil || st.Index() != idx+1 {
		t.Fatal("step committed with nothing to place")
	}
}
