package orchestrator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sw/cluster/store"
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

// BenchmarkStep: one pass of the leader's loop over a store of 100,000
// running tasks (1,000 services × 100, 1,000 nodes) after a commit that
// touched one service: incremental (what the loop does) against a full
// pass (what it did at every commit before the journal).
func BenchmarkStep(b *testing.B) {
	in := steadyInput(1000, 100, 1000)
	st := store.New()
	local := &store.Local{Store: st}
	ctx := context.Background()
	var changes []store.Change
	for _, n := range in.Nodes {
		changes = append(changes, store.Change{PutNode: n})
	}
	for _, s := range in.Services {
		changes = append(changes, store.Change{CreateService: s})
	}
	for _, t := range in.Tasks {
		changes = append(changes, store.Change{CreateTask: t})
	}
	if err := store.ProposeAll(ctx, local, changes); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"incremental", "full"} {
		b.Run(mode, func(b *testing.B) {
			o := &Orchestrator{Store: st, Proposer: local, Now: func() time.Time { return in.Now }}
			if _, err := o.step(ctx, st.View()); err != nil { // the first, full pass
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := local.Propose(ctx, &store.Command{Time: in.Now, Changes: []store.Change{{ServiceProblem: &store.ServiceProblem{
					ServiceID: "s0007", Message: fmt.Sprint(i%2 == 0)}}}}); err != nil {
					b.Fatal(err)
				}
				if mode == "full" {
					o.last = 0
				}
				b.StartTimer()
				if _, err := o.step(ctx, st.View()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
