package daemon

import (
	"context"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// TestWaitSession: a worker's session answers at once for a change to its
// own node or tasks, only after the coalescing delay for changes
// elsewhere, and after the poll with no change at all.
func TestWaitSession(t *testing.T) {
	st := store.New()
	idx := uint64(0)
	apply := func(changes ...store.Change) {
		t.Helper()
		idx++
		if err := st.Apply(idx, &store.Command{Time: time.Now(), Changes: changes}); err != nil {
			t.Fatal(err)
		}
	}
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
