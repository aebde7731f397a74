package orchestrator

import (
	"fmt"
	"testing"
	"time"

	"sw/cluster/types"
)

// BenchmarkReconcileSteady: one full pass over a steady swarm (every slot
// running its current task): 1,000 nodes, 10 services of 10,000 replicas.
// This is what every commit costs the leader's orchestrator when it
// rescans the whole state.
func BenchmarkReconcileSteady(b *testing.B) {
	for _, shape := range []struct{ services, replicas, nodes int }{{10, 1000, 100}, {10, 10000, 1000}} {
		b.Run(fmt.Sprintf("%dx%d_on_%d", shape.services, shape.replicas, shape.nodes), func(b *testing.B) {
			in := steadyInput(shape.services, shape.replicas, shape.nodes)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if p := Reconcile(in); !p.Empty() {
					b.Fatalf("a steady swarm's plan is not empty: %d creates, %d desires", len(p.Create), len(p.Desire))
				}
			}
		})
	}
}

func steadyInput(services, replicas, nodes int) Input {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	in := Input{Now: now, HistoryLimit: 5}
	for n := 0; n < nodes; n++ {
		in.Nodes = append(in.Nodes, &types.Node{ID: fmt.Sprintf("n%04d", n), Role: types.RoleWorker,
			Availability: types.AvailabilityActive, State: types.NodeReady})
	}
	for s := 0; s < services; s++ {
		svc := &types.Service{ID: fmt.Sprintf("s%02d", s), SpecVersion: 1, Spec: types.ServiceSpec{Name: fmt.Sprintf("svc%d", s),
			Mode: types.ModeReplicated, Replicas: uint64(replicas), Container: types.ContainerSpec{Image: "x"},
			Restart: types.RestartPolicy{Condition: types.RestartAny}}}
		in.Services = append(in.Services, svc)
		for r := 1; r <= replicas; r++ {
			in.Tasks = append(in.Tasks, &types.Task{ID: fmt.Sprintf("%s-t%05d", svc.ID, r), ServiceID: svc.ID, Slot: uint64(r),
				NodeID: in.Nodes[(s*replicas+r)%nodes].ID, SpecVersion: 1, DesiredState: types.TaskRunning,
				Status: types.TaskStatus{State: types.TaskRunning, Timestamp: now}})
		}
	}
	return in
}
