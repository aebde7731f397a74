package store

import (
	"fmt"
	"testing"

	"sw/cluster/types"
)

// TestNodeWatch: a node's watch wakes for its own row and its tasks
// (placed, changed, deleted) and for a restored snapshot, not for other
// nodes' commits.
func TestNodeWatch(t *testing.T) {
	h := newHarness(t)
	h.must(Change{PutNode: node("n1", "a")}, Change{PutNode: node("n2", "b")}, Change{CreateService: svc("s1", "web")})
	h.must(Change{CreateTask: newTask("t1", "s1", "n1")}, Change{CreateTask: newTask("t2", "s1", "n2")})
	wakes := func(change func()) bool {
		t.Helper()
		ch := h.st.NodeWatch("n1")
		change()
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	tests := []struct {
		name   string
		change func()
		want   bool
	}{
		{"another node's task", func() { h.must(status("t2", "n2", types.TaskRunning)) }, false},
		{"another node", func() { h.must(Change{NodeState: &NodeStateFrom{NodeID: "n2", State: types.NodeDown}}) }, false},
		{"a service", func() { h.must(Change{ServiceProblem: &ServiceProblem{ServiceID: "s1", Message: "x"}}) }, false},
		{"its task's status", func() { h.must(status("t1", "n1", types.TaskRunning)) }, true},
		{"its own row", func() { h.must(Change{NodeState: &NodeStateFrom{NodeID: "n1", State: types.NodeDown}}) }, true},
		{"a task placed on it", func() {
			h.must(Change{CreateTask: &types.Task{ID: "t3", ServiceID: "s1", Slot: 3, DesiredState: types.TaskRunning}})
			h.must(Change{AssignTask: &TaskAssignment{TaskID: "t3", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}})
		}, true},
		{"its task deleted", func() { h.must(Change{DeleteTask: "t1"}) }, true},
		{"a snapshot restored", func() {
			if err := h.st.restore(&snapshotData{Index: 99}); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		if got := wakes(tt.change); got != tt.want {
			t.Errorf("%s: woke %v, want %v", tt.name, got, tt.want)
		}
	}
	// A watch taken twice is one channel; a failed command wakes no one.
	a, b := h.st.NodeWatch("n1"), h.st.NodeWatch("n1")
	if a != b {
		t.Fatal("two watches of one node")
	}
	if err := h.try(status("t3", "n1", types.TaskRunning), Change{DeleteService: "nosuch"}, Change{}); err == nil {
		t.Fatal("an empty change applied")
	}
	select {
	case <-a:
		t.Fatal("a refused command woke the node's watch")
	default:
	}
}

func TestNodeChangedSince(t *testing.T) {
	h := newHarness(t)
	h.must(Change{PutNode: node("n1", "a")}, Change{PutNode: node("n2", "b")}, Change{CreateService: svc("s1", "web")})
	h.must(Change{CreateTask: newTask("t1", "s1", "n1")})
	idx := h.st.Index()
	v := h.st.View()
	if v.NodeChangedSince("n1", idx) {
		t.Fatal("nothing changed since the view")
	}
	h.must(status("t1", "n1", types.TaskRunning))
	if !h.st.View().NodeChangedSince("n1", idx) || h.st.View().NodeChangedSince("n2", idx) {
		t.Fatal("t1's report: n1 changed, n2 did not")
	}
}

// TestServicesChangedSince: the journal names the services a commit
// touched (their row, a task of theirs), says "all" for a node, network
// or cluster change, and for an index it has forgotten or that a
// restored snapshot replaced.
func TestServicesChangedSince(t *testing.T) {
	h := newHarness(t)
	h.must(Change{PutNode: node("n1", "a")}, Change{CreateService: svc("s1", "web")}, Change{CreateService: svc("s2", "api")})
	base := h.st.Index()
	h.must(Change{CreateTask: newTask("t1", "s1", "n1")})
	mid := h.st.Index()
	h.must(Change{ServiceProblem: &ServiceProblem{ServiceID: "s2", Message: "x"}})
	ids, all := h.st.ServicesChangedSince(base)
	if all || len(ids) != 2 {
		t.Fatalf("since %d: %v all=%v, want s1 and s2", base, ids, all)
	}
	if ids, all := h.st.ServicesChangedSince(mid); all || len(ids) != 1 {
		t.Fatalf("since %d: %v all=%v, want s2", mid, ids, all)
	} else if _, ok := ids["s2"]; !ok {
		t.Fatalf("since %d: %v, want s2", mid, ids)
	}
	now := h.st.Index()
	if ids, all := h.st.ServicesChangedSince(now); all || len(ids) != 0 {
		t.Fatalf("since now: %v all=%v", ids, all)
	}
	h.must(Change{NodeState: &NodeStateFrom{NodeID: "n1", State: types.NodeDown}})
	if _, all := h.st.ServicesChangedSince(now); !all {
		t.Fatal("a node's change: want all")
	}
	// Forgotten: more commits than the journal holds.
	old := h.st.Index()
	for i := 0; i <= journalSize; i++ {
		h.must(Change{ServiceProblem: &ServiceProblem{ServiceID: "s1", Message: fmt.Sprint(i)}})
	}
	if _, all := h.st.ServicesChangedSince(old); !all {
		t.Fatal("an index the journal forgot: want all")
	}
	recent := h.st.Index() - 10
	if ids, all := h.st.ServicesChangedSince(recent); all || len(ids) != 1 {
		t.Fatalf("a recent index: %v all=%v, want s1", ids, all)
	}
	// A snapshot restored at a later index replaces what came before.
	if err := h.st.restore(&snapshotData{Index: h.st.Index() + 5}); err != nil {
		t.Fatal(err)
	}
	if _, all := h.st.ServicesChangedSince(recent); !all {
		t.Fatal("an index before a restored snapshot: want all")
	}
}
