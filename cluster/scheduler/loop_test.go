package scheduler

import (
	"context"
	"testing"
	"time"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
)

// TestStepSkipsCommitsWithNothingToPlace: the loop scans every task only
// when a commit may have left one to place: a new task, a node change, or
// tasks still pending from the last pass.
func TestStepSkipsCommitsWithNothingToPlace(t *testing.T) {
	st := store.New()
	local := &store.Local{Store: st}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	propose := func(changes ...store.Change) {
		t.Helper()
		if err := local.Propose(ctx, &store.Command{Time: now, Changes: changes}); err != nil {
			t.Fatal(err)
		}
	}
	task := func(id, svc string, constraints ...string) store.Change {
		return store.Change{CreateTask: &types.Task{ID: id, ServiceID: svc, Slot: 1, DesiredState: types.TaskRunning,
			Placement: types.Placement{Constraints: constraints}, Status: types.TaskStatus{State: types.TaskNew, Timestamp: now}}}
	}
	svc := func(id string) store.Change {
		return store.Change{CreateService: &types.Service{ID: id, Spec: types.ServiceSpec{Name: id, Replicas: 1}}}
	}
	propose(store.Change{PutNode: &types.Node{ID: "n1", Hostname: "h1", Role: types.RoleWorker,
		Availability: types.AvailabilityActive, State: types.NodeReady}}, svc("a"), svc("b"), task("a1", "a"))
	s := &Scheduler{Store: st, Proposer: local, Now: func() time.Time { return now }, Filters: []hooks.NodeFilter{nowhere{}}}
	step := func() {
		t.Helper()
		if _, err := s.step(ctx, st.View()); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name   string
		change func()
		scans  int // after the step
	}{
		{"the first pass", func() {}, 1},
		{"its own assignment: nothing left to place", func() {}, 1},
		{"a service's report, nothing new", func() { propose(store.Change{ServiceProblem: &store.ServiceProblem{ServiceID: "a", Message: "x"}}) }, 1},
		{"a new task", func() { propose(task("b1", "b")) }, 2},
		{"after placing it", func() {}, 2},
		{"a node joins", func() {
			propose(store.Change{PutNode: &types.Node{ID: "n2", Hostname: "h2", Role: types.RoleWorker,
				Availability: types.AvailabilityActive, State: types.NodeReady}})
		}, 3},
		{"a task no node fits", func() { propose(task("a2", "a", "node.hostname==nowhere")) }, 4},
		{"while it is pending, any commit", func() { propose(store.Change{ServiceProblem: &store.ServiceProblem{ServiceID: "b", Message: "y"}}) }, 5},
	}
	for _, st := range steps {
		st.change()
		step()
		if s.scans != st.scans {
			t.Fatalf("%s: %d scans, want %d", st.name, s.scans, st.scans)
		}
	}
	v := st.View()
	if v.Task("a1").NodeID == "" || v.Task("b1").NodeID == "" {
		t.Fatal("the placeable tasks were not placed")
	}
	if got := v.Task("a2").Status.State; got != types.TaskPending {
		t.Fatalf("a2 is %v, want PENDING", got)
	}
}

// nowhere is a placement filter no node passes for a constraint of
// "node.hostname==nowhere".
type nowhere struct{}

func (nowhere) NodeCheck(p types.Placement) (func(*types.Node) bool, string) {
	for _, c := range p.Constraints {
		if c == "node.hostname==nowhere" {
			return func(*types.Node) bool { return false }, "scheduling constraints not satisfied"
		}
	}
	return nil, ""
}
