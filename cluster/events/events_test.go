package events

import (
	"context"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

// step applies changes and returns the events since the last state. It
// runs DiffChanged beside Diff, fed by the store's journal, and fails the
// test if the two see different events.
type differ struct {
	t     *testing.T
	l     *store.Local
	state State
	inc   State
	last  uint64
}

func (d *differ) step(changes ...store.Change) []Kind {
	d.t.Helper()
	if len(changes) > 0 {
		if err := d.l.Propose(context.Background(), &store.Command{Changes: changes}); err != nil {
			d.t.Fatal(err)
		}
	}
	view := d.l.Store.View()
	var evs, inc []Event
	evs, d.state = Diff(d.state, view, "n1")
	ids, all := d.l.Store.ServicesChangedSince(d.last)
	inc, d.inc = DiffChanged(d.inc, view, "n1", ids, all || d.last == 0)
	d.last = view.Index
	kinds := make([]Kind, len(evs))
	for i, e := range evs {
		kinds[i] = e.Kind
	}
	incKinds := make([]Kind, len(inc))
	for i, e := range inc {
		incKinds[i] = e.Kind
	}
	if !sameSet(kinds, incKinds) {
		d.t.Fatalf("Diff says %v, DiffChanged %v", kinds, incKinds)
	}
	return kinds
}

// sameSet reports whether a and b hold the same kinds, in any order.
func sameSet(a, b []Kind) bool {
	count := map[Kind]int{}
	for _, k := range a {
		count[k]++
	}
	for _, k := range b {
		count[k]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

func same(a, b []Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDiff(t *testing.T) {
	d := &differ{t: t, l: &store.Local{Store: store.New()}}
	node := func(id string, st types.NodeState) *types.Node { return &types.Node{ID: id, State: st} }
	svc := &types.Service{ID: "s", Spec: types.ServiceSpec{Name: "web"}}
	task := func(id, nodeID string) *types.Task {
		return &types.Task{ID: id, ServiceID: "s", NodeID: nodeID, Slot: 1, DesiredState: types.TaskRunning,
			Status: types.TaskStatus{State: types.TaskAssigned}}
	}
	running := func(id, nodeID string) store.Change {
		return store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: id, NodeID: nodeID, Status: types.TaskStatus{State: types.TaskRunning}}}
	}
	upd := *svc
	upd.Spec.Replicas = 3
	steps := []struct {
		name    string
		changes []store.Change
		want    []Kind
	}{
		{"nothing yet", nil, []Kind{}},
		{"node joins", []store.Change{{PutNode: node("n1", types.NodeReady)}, {PutNode: node("n2", types.NodeDown)}}, []Kind{NodeJoined}},
		{"node comes up", []store.Change{{NodeState: &store.NodeStateFrom{NodeID: "n2", State: types.NodeReady}}}, []Kind{NodeJoined}},
		{"node goes down", []store.Change{{NodeState: &store.NodeStateFrom{NodeID: "n2", State: types.NodeDown}}}, []Kind{NodeLeft}},
		{"service created", []store.Change{{CreateService: svc}}, []Kind{ServiceCreated}},
		{"service updated", nil, []Kind{}},
		{"tasks assigned", []store.Change{{CreateTask: task("a", "n1")}, {CreateTask: task("b", "n2")}}, []Kind{}},
		{"own task starts, other's ignored", []store.Change{running("a", "n1"), running("b", "n2")}, []Kind{TaskStarted}},
		{"own task stops", []store.Change{{TaskStatus: &store.TaskStatusFrom{TaskID: "a", NodeID: "n1", Status: types.TaskStatus{State: types.TaskFailed}}}}, []Kind{TaskStopped}},
		{"service removed, node removed", []store.Change{{DeleteService: "s"}, {DeleteNode: "n1"}}, []Kind{NodeLeft, ServiceRemoved}},
	}
	for _, s := range steps {
		if s.name == "service updated" {
			cur := d.l.Store.View().Service("s")
			u := *cur
			u.Spec = upd.Spec
			s.changes = []store.Change{{UpdateService: &u}}
			s.want = []Kind{ServiceUpdated}
		}
		if got := d.step(s.changes...); !same(got, s.want) {
			t.Fatalf("%s: events %v, want %v", s.name, got, s.want)
		}
	}
}
