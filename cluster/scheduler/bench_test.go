package scheduler

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
)

// scheduleShapes are swarmkit's benchmark shapes: nodes × tasks of one
// service.
var scheduleShapes = []struct{ nodes, tasks int }{
	{1000, 1000},
	{1000, 10000},
	{1000, 100000},
	{100000, 1000},
}

// BenchmarkSchedule mirrors swarmkit's scheduler benchmarks: one service's
// tasks, all nodes ready, in memory. Each iteration is timed from "the tasks
// exist unassigned in the store" to "all are assigned and committed": read
// the view, Schedule, and apply the assignment command.
func BenchmarkSchedule(b *testing.B) {
	for _, shape := range scheduleShapes {
		b.Run(fmt.Sprintf("nodes=%d/tasks=%d", shape.nodes, shape.tasks), func(b *testing.B) {
			benchSchedule(b, shape.nodes, shape.tasks, false)
		})
	}
}

// BenchmarkScheduleSpread is BenchmarkSchedule with resources and a
// placement preference (issue 11's shape): every node reports 4 CPUs and
// 16 GiB and has one of 10 values of the label zone, every task reserves
// 0.01 CPU and 16 MiB (room for all of them) and spreads over
// node.labels.zone, so each placement picks a zone, then checks its
// node's room.
func BenchmarkScheduleSpread(b *testing.B) {
	for _, shape := range scheduleShapes {
		b.Run(fmt.Sprintf("nodes=%d/tasks=%d", shape.nodes, shape.tasks), func(b *testing.B) {
			benchSchedule(b, shape.nodes, shape.tasks, true)
		})
	}
}

func benchSchedule(b *testing.B, nodeCount, taskCount int, reserve bool) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	nodes := make([]store.Change, nodeCount)
	for i := range nodes {
		nodes[i] = store.Change{PutNode: &types.Node{ID: fmt.Sprintf("node%021d", i), Hostname: fmt.Sprintf("host%d", i),
			Role: types.RoleWorker, Availability: types.AvailabilityActive, State: types.NodeReady}}
	}
	spec := types.ContainerSpec{Image: "nginx:latest"}
	var placement types.Placement
	if reserve {
		for i, c := range nodes {
			c.PutNode.Description.Resources = types.Resources{NanoCPUs: 4e9, MemoryBytes: 16 << 30}
			c.PutNode.Labels = map[string]string{"zone": fmt.Sprintf("z%d", i%10)}
		}
		spec.Resources = &types.ResourceRequirements{Reservations: &types.Resources{NanoCPUs: 1e7, MemoryBytes: 16 << 20}}
		placement.Preferences = []types.PlacementPreference{{Spread: &types.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}
	}
	tasks := make([]store.Change, taskCount)
	for i := range tasks {
		tasks[i] = store.Change{CreateTask: &types.Task{ID: fmt.Sprintf("task%021d", i), ServiceID: "service000000000000000001",
			ServiceName: "bench", Slot: uint64(i + 1), SpecVersion: 1, Spec: spec, Placement: placement, DesiredState: types.TaskRunning,
			Status: types.TaskStatus{State: types.TaskNew, Message: "created"}}}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st := store.New()
		if err := st.Apply(1, &store.Command{Time: at, Changes: nodes}); err != nil {
			b.Fatal(err)
		}
		if err := st.Apply(2, &store.Command{Time: at, Changes: tasks}); err != nil {
			b.Fatal(err)
		}
		runtime.GC() // collect the previous iteration's store now, not in the timed part
		b.StartTimer()

		view := st.View()
		as := Schedule(at, view.Nodes(), view.Tasks())
		as = dropUnchangedPending(view, as)
		if err := st.Apply(view.Index+1, &store.Command{Time: at, Changes: Changes(as)}); err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		assigned := 0
		for _, t := range st.View().Tasks() {
			if t.NodeID == "" || t.Status.State != types.TaskAssigned {
				b.Fatalf("task %s not assigned: %+v", t.ID, t.Status)
			}
			assigned++
		}
		if assigned != taskCount {
			b.Fatalf("%d tasks assigned, want %d", assigned, taskCount)
		}
		b.StartTimer()
	}
}

// BenchmarkScheduleConstrained is Schedule's cost with a placement
// constraint that half the nodes meet (1k nodes, 10k tasks of one
// service): the filter runs once per node for the group, not per task.
func BenchmarkScheduleConstrained(b *testing.B) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	nodes := make([]*types.Node, 1000)
	for i := range nodes {
		n := &types.Node{ID: fmt.Sprintf("node%021d", i), Role: types.RoleWorker,
			Availability: types.AvailabilityActive, State: types.NodeReady}
		if i%2 == 0 {
			n.Labels = map[string]string{"zone": "east"}
		}
		nodes[i] = n
	}
	tasks := constrained(unplaced("service000000000000000001", 10000), "zone=east")
	filters := []hooks.NodeFilter{&zoneFilter{}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		as := ScheduleFiltered(at, nodes, tasks, filters)
		if len(as) != len(tasks) || as[0].NodeID == "" {
			b.Fatalf("%d assignments", len(as))
		}
	}
}
