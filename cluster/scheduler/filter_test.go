package scheduler

import (
	"reflect"
	"strings"
	"testing"

	"sw/cluster/hooks"
	"sw/cluster/types"
)

// zoneFilter is a stand-in for the labels plugin: each constraint "K=V"
// wants label K to be V.
type zoneFilter struct{ calls int }

var _ hooks.NodeFilter = (*zoneFilter)(nil)

func (f *zoneFilter) NodeCheck(p types.Placement) (func(*types.Node) bool, string) {
	f.calls++
	if len(p.Constraints) == 0 {
		return nil, ""
	}
	return func(n *types.Node) bool {
		for _, c := range p.Constraints {
			k, v, _ := strings.Cut(c, "=")
			if n.Labels[k] != v {
				return false
			}
		}
		return true
	}, "scheduling constraints not satisfied"
}

// labelled makes a ready node with labels "k=v,...".
func labelled(id string, kvs ...string) *types.Node {
	n := mkNode(id, types.AvailabilityActive, types.NodeReady)
	n.Labels = map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		n.Labels[k] = v
	}
	return n
}

func constrained(ts []*types.Task, cs ...string) []*types.Task {
	for _, t := range ts {
		t.Placement.Constraints = cs
	}
	return ts
}

func TestFilteredPlacement(t *testing.T) {
	drained := labelled("d", "zone=east")
	drained.Availability = types.AvailabilityDrain
	cases := []struct {
		name      string
		nodes     []*types.Node
		tasks     []*types.Task
		wantOrder []string // node per assignment; "" pending
		wantErr   string   // of the pending ones
	}{
		{
			name:      "no constraint: every node",
			nodes:     []*types.Node{labelled("a", "zone=east"), labelled("b"), labelled("c")},
			tasks:     unplaced("web", 3),
			wantOrder: []string{"a", "b", "c"},
		},
		{
			name:      "only the matching node",
			nodes:     []*types.Node{labelled("a"), labelled("b", "zone=east"), labelled("c", "zone=west")},
			tasks:     constrained(unplaced("web", 3), "zone=east"),
			wantOrder: []string{"b", "b", "b"},
		},
		{
			name:      "spread over the matching nodes",
			nodes:     []*types.Node{labelled("a", "zone=east"), labelled("b"), labelled("c", "zone=east")},
			tasks:     constrained(unplaced("web", 4), "zone=east"),
			wantOrder: []string{"a", "c", "a", "c"},
		},
		{
			name:      "every constraint must hold",
			nodes:     []*types.Node{labelled("a", "zone=east"), labelled("b", "zone=east", "disk=ssd")},
			tasks:     constrained(unplaced("web", 2), "zone=east", "disk=ssd"),
			wantOrder: []string{"b", "b"},
		},
		{
			name:      "no node qualifies",
			nodes:     []*types.Node{labelled("a"), labelled("b"), labelled("c", "zone=west")},
			tasks:     constrained(unplaced("web", 2), "zone=east"),
			wantOrder: []string{"", ""},
			wantErr:   "no suitable node (scheduling constraints not satisfied on 3 nodes)",
		},
		{
			name:      "unavailable nodes are counted apart",
			nodes:     []*types.Node{drained, labelled("b")},
			tasks:     constrained(unplaced("web", 1), "zone=east"),
			wantOrder: []string{""},
			wantErr:   "no suitable node (1 node not available for new tasks; scheduling constraints not satisfied on 1 node)",
		},
		{
			name:      "no nodes",
			tasks:     constrained(unplaced("web", 1), "zone=east"),
			wantOrder: []string{""},
			wantErr:   "no suitable node (no nodes in the swarm)",
		},
		{
			name:  "an unconstrained service still uses every node",
			nodes: []*types.Node{labelled("a", "zone=east"), labelled("b")},
			tasks: append(constrained(unplaced("db", 2), "zone=east"), unplaced("web", 2)...),
			// db first (IDs sort), both on a; web's first goes to b (fewer
			// tasks overall), its second to a (fewer of web).
			wantOrder: []string{"a", "a", "b", "a"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := ScheduleFiltered(now, c.nodes, c.tasks, []hooks.NodeFilter{&zoneFilter{}})
			if got := order(as); !reflect.DeepEqual(got, c.wantOrder) {
				t.Fatalf("placed on %q, want %q", got, c.wantOrder)
			}
			for _, a := range as {
				if a.NodeID != "" {
					continue
				}
				if a.Status.State != types.TaskPending || a.Status.Err != c.wantErr || a.Status.Message != "pending task scheduling" {
					t.Errorf("pending %+v, want err %q", a.Status, c.wantErr)
				}
			}
		})
	}
}

// A filter is asked once per placement, not once per task or node.
func TestFilterAskedPerGroup(t *testing.T) {
	f := &zoneFilter{}
	nodes := []*types.Node{labelled("a", "zone=east"), labelled("b")}
	tasks := append(constrained(unplaced("db", 50), "zone=east"), unplaced("web", 50)...)
	if as := ScheduleFiltered(now, nodes, tasks, []hooks.NodeFilter{f}); len(as) != 100 {
		t.Fatalf("%d assignments", len(as))
	}
	if f.calls != 2 {
		t.Errorf("NodeCheck called %d times, want 2 (one per service)", f.calls)
	}
}

// Tasks of two spec versions of one service with different placements:
// each version gets its own nodes, and the service's spread carries over.
func TestPlacementChangeWithinService(t *testing.T) {
	nodes := []*types.Node{labelled("a", "zone=east"), labelled("b", "zone=west"), labelled("c", "zone=west")}
	v1 := constrained(unplaced("web", 2), "zone=east")
	v2 := constrained(unplaced("web", 2), "zone=west")
	for i, t := range v2 {
		t.ID += "-v2"
		t.Slot = uint64(3 + i)
		t.SpecVersion = 2
	}
	for _, t := range v1 {
		t.SpecVersion = 1
	}
	// Newer version first in the input: the scheduler sorts by version.
	as := ScheduleFiltered(now, nodes, append(v2, v1...), []hooks.NodeFilter{&zoneFilter{}})
	if got := order(as); !reflect.DeepEqual(got, []string{"a", "a", "b", "c"}) {
		t.Errorf("placed on %q, want a a b c", got)
	}
	// With one west node holding the service already, the next version
	// goes to the other first.
	busy := placed("web", "b", 1, types.TaskRunning)
	as = ScheduleFiltered(now, nodes, append(busy, constrained(unplaced("web", 1), "zone=west")...), []hooks.NodeFilter{&zoneFilter{}})
	if got := order(as); !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("placed on %q, want c", got)
	}
}

// A global service's pinned task whose node fails the constraints stays
// pending with the reason for that node.
func TestPinnedFiltered(t *testing.T) {
	nodes := []*types.Node{labelled("a", "zone=east"), labelled("b")}
	pin := func(id, node string) *types.Task {
		return &types.Task{ID: id, ServiceID: "g", NodeID: node, DesiredState: types.TaskRunning,
			Status: types.TaskStatus{State: types.TaskNew}, Placement: types.Placement{Constraints: []string{"zone=east"}}}
	}
	as := ScheduleFiltered(now, nodes, []*types.Task{pin("g1", "a"), pin("g2", "b")}, []hooks.NodeFilter{&zoneFilter{}})
	if len(as) != 2 || as[0].NodeID != "a" || as[1].NodeID != "" ||
		as[1].Status.Err != "no suitable node (scheduling constraints not satisfied on 1 node)" {
		t.Errorf("got %+v", as)
	}
}

// Without filters, ScheduleFiltered is Schedule.
func TestNoFiltersSameAsSchedule(t *testing.T) {
	nodes := ready("n1", "n2", "n3")
	tasks := append(constrained(unplaced("db", 4), "zone=east"), unplaced("web", 5)...)
	if a, b := Schedule(now, nodes, tasks), ScheduleFiltered(now, nodes, tasks, nil); !reflect.DeepEqual(order(a), order(b)) {
		t.Errorf("Schedule %q, ScheduleFiltered %q", order(a), order(b))
	}
}
