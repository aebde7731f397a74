package dispatcher

import (
	"context"
	"fmt"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

// BenchmarkSessions: answering 100 workers' sessions at one store index
// (a swarm of 100 services × 100 running tasks on 1,000 nodes), with the
// shared part built and encoded once (what the server does) against once
// per session (what it did before).
func BenchmarkSessions(b *testing.B) {
	st := store.New()
	var changes []store.Change
	for n := 0; n < 1000; n++ {
		changes = append(changes, store.Change{PutNode: &types.Node{ID: fmt.Sprintf("n%04d", n), Hostname: fmt.Sprintf("h%d", n),
			Role: types.RoleWorker, State: types.NodeReady, Availability: types.AvailabilityActive}})
	}
	for sv := 0; sv < 100; sv++ {
		id := fmt.Sprintf("s%03d", sv)
		changes = append(changes, store.Change{CreateService: &types.Service{ID: id, Spec: types.ServiceSpec{Name: id, Replicas: 100,
			Container: types.ContainerSpec{Image: "x"}}}})
		for r := 1; r <= 100; r++ {
			changes = append(changes, store.Change{CreateTask: &types.Task{ID: fmt.Sprintf("%s-%03d", id, r), ServiceID: id, ServiceName: id,
				Slot: uint64(r), NodeID: fmt.Sprintf("n%04d", (sv*100+r)%1000), DesiredState: types.TaskRunning,
				Status: types.TaskStatus{State: types.TaskRunning}}})
		}
	}
	local := &store.Local{Store: st}
	if err := store.ProposeAll(context.Background(), local, changes); err != nil {
		b.Fatal(err)
	}
	s := &Server{Store: st, Proposer: local, Managers: func() []string { return []string{"10.0.0.1:2377"} }}
	for _, shared := range []bool{true, false} {
		b.Run(map[bool]string{true: "shared", false: "per-session"}[shared], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				v := st.View()
				for w := 0; w < 100; w++ {
					if !shared {
						s.mu.Lock()
						s.shared = nil
						s.mu.Unlock()
					}
					out, err := s.session(v, fmt.Sprintf("n%04d", w), false)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := out.encode(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
