package simworker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/clustertest"
	"sw/cluster/simworker"
	"sw/cluster/types"
)

// TestSimulatedWorkers: simulated workers join a real manager through the
// peer API, are Ready on their heartbeats alone, run a service's tasks on
// their fake engines through their sessions, and when one stops (its host
// lost) it is marked Down within the heartbeat TTL and its tasks run on
// the others.
func TestSimulatedWorkers(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Managers: 1})
	m := c.Nodes[0]
	ctx := c.Ctx(60 * time.Second)
	if _, err := m.Client.UpdateNode(ctx, m.ID, api.NodeUpdateRequest{Availability: string(types.AvailabilityDrain)}); err != nil {
		t.Fatal(err)
	}
	sw, err := m.Client.Swarm(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	ws := make([]*simworker.Worker, n)
	cancels := make([]context.CancelFunc, n)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		for _, cancel := range cancels {
			if cancel != nil {
				cancel()
			}
		}
		wg.Wait()
	})
	for i := range ws {
		w, err := simworker.Join(ctx, simworker.Config{Hostname: fmt.Sprintf("sim%d", i+1), Manager: m.IP + ":2377",
			Token: sw.JoinTokens.Worker, Addr: fmt.Sprintf("127.0.0.%d:2377", 10+i),
			StartDelay: func() time.Duration { return 20 * time.Millisecond }})
		if err != nil {
			t.Fatal(err)
		}
		ws[i] = w
		wctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(wctx) }()
	}
	c.Eventually(20*time.Second, "the simulated workers Ready", func() (bool, string) {
		st, err := c.Statuses(m)
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for i := range ws {
			if s := st[fmt.Sprintf("sim%d", i+1)]; s.State == types.NodeReady {
				ready++
			}
		}
		return ready == n, fmt.Sprintf("%v", st)
	})
	if _, err := m.Client.CreateService(ctx, types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 6,
		Container: types.ContainerSpec{Image: "sw-demo:latest"}}); err != nil {
		t.Fatal(err)
	}
	running := func() map[string]int {
		out := map[string]int{}
		for i, w := range ws {
			if k := len(w.Engine.Running()); k > 0 {
				out[fmt.Sprintf("sim%d", i+1)] = k
			}
		}
		return out
	}
	c.Eventually(20*time.Second, "6 tasks running on the simulated workers", func() (bool, string) {
		got, err := c.RunningTasks(m, "web")
		if err != nil {
			return false, err.Error()
		}
		return clustertest.Sum(got) == 6 && clustertest.Sum(running()) == 6, fmt.Sprintf("store %v, engines %v", got, running())
	})
	cancels[0]()
	start := time.Now()
	c.Eventually(types.HeartbeatTTL+10*time.Second, "sim1 Down", func() (bool, string) {
		st, err := c.Statuses(m)
		if err != nil {
			return false, err.Error()
		}
		return st["sim1"].State == types.NodeDown, st["sim1"].String()
	})
	if d := time.Since(start); d < types.HeartbeatTTL-time.Second {
		t.Errorf("sim1 marked Down %v after its last heartbeat could have been sent, before the %v TTL", d, types.HeartbeatTTL)
	}
	c.Eventually(20*time.Second, "6 tasks running on the others", func() (bool, string) {
		got, err := c.RunningTasks(m, "web")
		if err != nil {
			return false, err.Error()
		}
		return clustertest.Sum(got) == 6 && got["sim1"] == 0, fmt.Sprintf("%v", got)
	})
}
