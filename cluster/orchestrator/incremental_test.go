package orchestrator

import (
	"context"
	"sort"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// TestIncrementalPasses: after a full pass, a commit that touches one
// service makes the next pass look at that service alone; a node change,
// a due wake-up, the periodic timer and a failed proposal each make it a
// full pass again (a journal the loop fell behind: TestServicesChangedSince).
func TestIncrementalPasses(t *testing.T) {
	st := store.New()
	local := &store.Local{Store: st}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	propose := func(changes ...store.Change) {
		t.Helper()
		if err := local.Propose(context.Background(), &store.Command{Time: now, Changes: changes}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(id string, replicas uint64) *types.Service {
		return &types.Service{ID: id, SpecVersion: 1, Spec: types.ServiceSpec{Name: id, Mode: types.ModeReplicated, Replicas: replicas,
			Container: types.ContainerSpec{Image: "x"}, Restart: types.RestartPolicy{Condition: types.RestartAny}}}
	}
	propose(store.Change{PutNode: &types.Node{ID: "n1", Role: types.RoleWorker, Availability: types.AvailabilityActive, State: types.NodeReady}},
		store.Change{CreateService: mk("a", 2)}, store.Change{CreateService: mk("b", 2)})
	var seen []string
	o := &Orchestrator{Store: st, Proposer: local, Now: func() time.Time { return now }}
	o.observe = func(in Input) {
		seen = seen[:0]
		for _, s := range in.Services {
			seen = append(seen, s.ID)
		}
		sort.Strings(seen)
	}
	pass := func() []string {
		t.Helper()
		if _, err := o.step(context.Background(), st.View()); err != nil {
			t.Fatal(err)
		}
		return append([]string(nil), seen...)
	}
	same := func(got []string, want ...string) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
	if got := pass(); !same(got, "a", "b") {
		t.Fatalf("first pass saw %v, want a full pass", got)
	}
	if n := len(st.View().Tasks()); n != 4 {
		t.Fatalf("%d tasks after the first pass, want 4", n)
	}
	// Its own creates touched both services: looked at once more, then
	// nothing is due.
	if got := pass(); !same(got, "a", "b") {
		t.Fatalf("the pass after the creates saw %v", got)
	}
	if got := pass(); len(got) != 0 {
		t.Fatalf("a pass with no commit saw %v", got)
	}

	// Scale a: only a is looked at, and it gets its third task.
	a := st.View().Service("a")
	scaled := *a
	scaled.Spec.Replicas = 3
	propose(store.Change{UpdateService: &scaled})
	if got := pass(); !same(got, "a") {
		t.Fatalf("after scaling a, the pass saw %v, want only a", got)
	}
	if n := len(st.View().TasksOfService("a")); n != 3 {
		t.Fatalf("a has %d tasks, want 3", n)
	}
	pass() // its own create

	// A node's change concerns every service.
	propose(store.Change{NodeState: &store.NodeStateFrom{NodeID: "n1", State: types.NodeDown}})
	if got := pass(); !same(got, "a", "b") {
		t.Fatalf("after a node change the pass saw %v, want a full pass", got)
	}
	for len(seen) > 0 { // let the replacements settle
		pass()
	}

	// The periodic full pass.
	now = now.Add(FullPassEvery)
	if got := pass(); !same(got, "a", "b") {
		t.Fatalf("after %v the pass saw %v, want a full pass", FullPassEvery, got)
	}
	// A wake-up asked for and due.
	o.wakeAt = now.Add(time.Second)
	now = now.Add(2 * time.Second)
	if got := pass(); !same(got, "a", "b") {
		t.Fatalf("a due wake-up's pass saw %v, want a full pass", got)
	}
	// A failed proposal: the next pass is full.
	o.failed = true
	if got := pass(); !same(got, "a", "b") {
		t.Fatalf("after a failed proposal the pass saw %v, want a full pass", got)
	}
}
