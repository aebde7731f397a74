package scheduler

import (
	"fmt"
	"reflect"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

const gib = 1 << 30

// sized gives nodes CPUs and memory.
func sized(cpus, memGiB int64, nodes ...*types.Node) []*types.Node {
	for _, n := range nodes {
		n.Description.Resources = types.Resources{NanoCPUs: cpus * 1e9, MemoryBytes: memGiB * gib}
	}
	return nodes
}

// reserving sets a reservation on tasks.
func reserving(cpu float64, memGiB float64, ts []*types.Task) []*types.Task {
	for _, t := range ts {
		t.Spec.Resources = &types.ResourceRequirements{Reservations: &types.Resources{
			NanoCPUs: int64(cpu * 1e9), MemoryBytes: int64(memGiB * gib)}}
	}
	return ts
}

func outcome(as []store.TaskAssignment) map[string]string {
	out := map[string]string{}
	for _, a := range as {
		if a.NodeID != "" {
			out[a.TaskID] = a.NodeID
		} else {
			out[a.TaskID] = a.Status.Err
		}
	}
	return out
}

func TestScheduleReservations(t *testing.T) {
	cases := []struct {
		name  string
		nodes []*types.Node
		tasks []*types.Task
		want  map[string]string
	}{
		{name: "placed where the reservation fits",
			nodes: sized(2, 4, ready("n1", "n2")...),
			tasks: append(reserving(0, 3, placed("big", "n1", 1, types.TaskRunning)), reserving(0, 2, unplaced("web", 1))...),
			want:  map[string]string{"web-000": "n2"}},
		{name: "larger than any node: pending, with the reason",
			nodes: sized(2, 4, ready("n1", "n2", "n3")...),
			tasks: reserving(0, 8, unplaced("web", 1)),
			want:  map[string]string{"web-000": "no suitable node (insufficient resources on 3 nodes)"}},
		{name: "CPUs count too, and this pass's placements fill the nodes",
			nodes: sized(2, 64, ready("n1", "n2")...),
			tasks: reserving(1.5, 0, unplaced("web", 3)),
			want: map[string]string{"web-000": "n1", "web-001": "n2",
				"web-002": "no suitable node (insufficient resources on 2 nodes)"}},
		{name: "a stopped task's reservation is free again",
			nodes: sized(1, 4, ready("n1")...),
			tasks: append(reserving(1, 0, placed("old", "n1", 1, types.TaskFailed)), reserving(1, 0, unplaced("web", 1))...),
			want:  map[string]string{"web-000": "n1"}},
		{name: "unavailable nodes are named apart",
			nodes: append(sized(1, 1, ready("n1")...), sized(8, 8, mkNode("n2", types.AvailabilityDrain, types.NodeReady))...),
			tasks: reserving(0, 2, unplaced("web", 1)),
			want: map[string]string{"web-000": "no suitable node (1 node not available for new tasks; " +
				"insufficient resources on 1 node)"}},
		{name: "a node that reports no resources is not limited",
			nodes: ready("n1"),
			tasks: reserving(64, 1024, unplaced("web", 2)),
			want:  map[string]string{"web-000": "n1", "web-001": "n1"}},
		{name: "a global task pinned to a full node waits",
			nodes: sized(1, 1, ready("n1")...),
			tasks: func() []*types.Task {
				ts := reserving(0, 2, unplaced("glob", 1))
				ts[0].NodeID, ts[0].Slot = "n1", 0
				return ts
			}(),
			want: map[string]string{"glob-000": "no suitable node (insufficient resources on 1 node)"}},
		{name: "the full nodes are set aside, not lost: the spread goes on",
			nodes: sized(4, 4, ready("n1", "n2", "n3")...),
			tasks: append(reserving(0, 4, placed("big", "n1", 1, types.TaskRunning)), reserving(0, 1, unplaced("web", 4))...),
			want:  map[string]string{"web-000": "n2", "web-001": "n3", "web-002": "n2", "web-003": "n3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := outcome(Schedule(now, c.nodes, c.tasks))
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %v\nwant %v", got, c.want)
			}
		})
	}
}

func zoned(key string, values ...string) []*types.Node {
	var out []*types.Node
	for i, v := range values {
		n := mkNode(fmt.Sprintf("n%d", i+1), types.AvailabilityActive, types.NodeReady)
		if v != "" {
			n.Labels = map[string]string{key: v}
		}
		out = append(out, n)
	}
	return out
}

func spreading(prefs []string, max uint64, ts []*types.Task) []*types.Task {
	for _, t := range ts {
		for _, k := range prefs {
			t.Placement.Preferences = append(t.Placement.Preferences,
				types.PlacementPreference{Spread: &types.SpreadOver{SpreadDescriptor: "node.labels." + k}})
		}
		t.Placement.MaxReplicas = max
	}
	return ts
}

// byLabel counts assignments per value of a node label.
func byLabel(as []store.TaskAssignment, nodes []*types.Node, key string) map[string]int {
	val := map[string]string{}
	for _, n := range nodes {
		val[n.ID] = n.Labels[key]
	}
	out := map[string]int{}
	for _, a := range as {
		if a.NodeID != "" {
			out[val[a.NodeID]]++
		} else {
			out["pending"]++
		}
	}
	return out
}

func TestSchedulePreferencesAndCap(t *testing.T) {
	// Zone a has 3 nodes, zone b one, one node has no zone: the spread
	// goes by zone first, so b's one node gets as many as a's three.
	nodes := zoned("zone", "a", "a", "a", "b", "")
	as := Schedule(now, nodes, spreading([]string{"zone"}, 0, unplaced("web", 9)))
	if got := byLabel(as, nodes, "zone"); !reflect.DeepEqual(got, map[string]int{"a": 3, "b": 3, "": 3}) {
		t.Errorf("spread over zones: %v, want 3 each", got)
	}
	if got := perNode(as); got["n1"] != 1 || got["n2"] != 1 || got["n3"] != 1 || got["n4"] != 3 {
		t.Errorf("within zone a: %v, want 1 each", got)
	}

	// Tasks already placed count: zone b has 4, so the new ones go to a.
	ts := append(spreading([]string{"zone"}, 0, placed("web", "n3", 4, types.TaskRunning)),
		spreading([]string{"zone"}, 0, unplaced("web", 4))...)
	nodes = zoned("zone", "a", "a", "b")
	if got := byLabel(Schedule(now, nodes, ts), nodes, "zone"); got["a"] != 4 {
		t.Errorf("with 4 running in b: %v, want all 4 new in a", got)
	}

	// Nested: zone, then rack within it.
	nodes = zoned("zone", "a", "a", "b", "b")
	racks := []string{"r1", "r2", "r1", "r2"}
	for i, n := range nodes {
		n.Labels["rack"] = racks[i]
	}
	if got := perNode(Schedule(now, nodes, spreading([]string{"zone", "rack"}, 0, unplaced("web", 8)))); !reflect.DeepEqual(got,
		map[string]int{"n1": 2, "n2": 2, "n3": 2, "n4": 2}) {
		t.Errorf("zone then rack: %v, want 2 each", got)
	}

	// At most 2 per node on 2 nodes: the fifth waits, saying why.
	nodes = ready("n1", "n2")
	got := outcome(Schedule(now, nodes, spreading(nil, 2, unplaced("web", 5))))
	if got["web-004"] != "no suitable node (max replicas per node limit exceeded on 2 nodes)" {
		t.Errorf("the fifth task: %q", got["web-004"])
	}
	if got["web-000"] == "" || got["web-003"] == "" || len(got) != 5 {
		t.Errorf("outcome %v", got)
	}

	// A preference and a reservation: a full node is passed over, its
	// zone's other node used.
	nodes = sized(1, 1, zoned("zone", "a", "a", "b")...)
	ts = append(reserving(0, 1, placed("big", "n1", 1, types.TaskRunning)),
		reserving(0, 0.5, spreading([]string{"zone"}, 0, unplaced("web", 2)))...)
	if got := outcome(Schedule(now, nodes, ts)); got["web-000"] == got["web-001"] || got["web-000"] == "n1" || got["web-001"] == "n1" {
		t.Errorf("with n1 full: %v, want one on n2 and one on n3", got)
	}
}
