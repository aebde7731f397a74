package scheduler

import (
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
