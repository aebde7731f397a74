package clustertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/types"
)

// TestReservationWaitsForRoom: a task whose memory reservation no node
// has room for stays PENDING, saying why, and is placed as soon as room
// appears: when a node with room joins, and when another service is
// scaled down.
func TestReservationWaitsForRoom(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	c := New(t, Options{Managers: 1, Resources: types.Resources{NanoCPUs: 2e9, MemoryBytes: 1 * gib}})
	m1 := c.Nodes[0]
	if n, err := m1.Client.Node(c.Ctx(5*time.Second), m1.ID); err != nil || n.Description.Resources.MemoryBytes != gib {
		t.Fatalf("m1's resources: %+v (%v)", n, err)
	}
	big := replicated("big", 1)
	big.Container.Resources = &types.ResourceRequirements{Reservations: &types.Resources{MemoryBytes: 2 * gib}}
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), big); err != nil {
		t.Fatal(err)
	}
	pendingWith := func(svc, reason string) func() (bool, string) {
		return func() (bool, string) {
			ts, err := c.Tasks(m1, svc)
			if err != nil || len(ts) != 1 {
				return false, fmt.Sprint(len(ts), err)
			}
			st := ts[0].Status
			return st.State == types.TaskPending && strings.Contains(st.Err, reason), st.State.String() + " " + st.Err
		}
	}
	c.Eventually(10*time.Second, "big PENDING for want of memory",
		pendingWith("big", "no suitable node (insufficient resources on 1 node)"))

	w1 := c.AddWorker("w1", types.Resources{NanoCPUs: 4e9, MemoryBytes: 4 * gib}, m1)
	c.Eventually(15*time.Second, "big running on w1", func() (bool, string) {
		run := c.RunningOn(w1)
		return run[w1.Name] == 1, fmt.Sprint(run)
	})

	// w1 has 2 GiB left: a 3 GiB reservation waits until big goes.
	more := replicated("more", 1)
	more.Container.Resources = &types.ResourceRequirements{Reservations: &types.Resources{MemoryBytes: 3 * gib}}
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), more); err != nil {
		t.Fatal(err)
	}
	c.Eventually(10*time.Second, "more PENDING", pendingWith("more", "insufficient resources on 2 nodes"))
	if err := c.Scale(m1, "big", 0); err != nil {
		t.Fatal(err)
	}
	c.Eventually(15*time.Second, "more running once big is gone", func() (bool, string) {
		run, err := c.RunningTasks(m1, "more")
		return err == nil && Sum(run) == 1 && run["w1"] == 1, fmt.Sprint(run, err)
	})
}

// TestSpreadAndCap: a spread preference over a node label puts as many
// tasks in each label value, however many nodes each has; a cap per node
// leaves the tasks beyond it PENDING, saying why, and places them once a
// node is added.
func TestSpreadAndCap(t *testing.T) {
	t.Parallel()
	c := New(t, Options{Managers: 1, Workers: 3})
	m1 := c.Nodes[0]
	zones := map[string]string{"m1": "a", "w1": "a", "w2": "a", "w3": "b"}
	for _, n := range c.Nodes {
		if _, err := m1.Client.UpdateNode(c.Ctx(5*time.Second), n.ID, api.NodeUpdateRequest{LabelAdd: map[string]string{"zone": zones[n.Name]}}); err != nil {
			t.Fatal(err)
		}
	}
	spread := replicated("spread", 6)
	spread.Placement.Preferences = []types.PlacementPreference{{Spread: &types.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), spread); err != nil {
		t.Fatal(err)
	}
	c.Eventually(15*time.Second, "3 tasks in each zone", func() (bool, string) {
		run, err := c.RunningTasks(m1, "spread")
		if err != nil {
			return false, err.Error()
		}
		perZone := map[string]int{}
		for node, k := range run {
			perZone[zones[node]] += k
		}
		return perZone["a"] == 3 && perZone["b"] == 3, fmt.Sprint(run)
	})

	capped := replicated("capped", 5)
	capped.Placement.MaxReplicas = 1
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), capped); err != nil {
		t.Fatal(err)
	}
	c.Eventually(15*time.Second, "4 running, one PENDING at the cap", func() (bool, string) {
		ts, err := c.Tasks(m1, "capped")
		if err != nil {
			return false, err.Error()
		}
		running, pending := 0, ""
		for _, tk := range ts {
			switch tk.Status.State {
			case types.TaskRunning:
				running++
			case types.TaskPending:
				pending = tk.Status.Err
			}
		}
		return running == 4 && pending == "no suitable node (max replicas per node limit exceeded on 4 nodes)",
			fmt.Sprintf("%d running, pending %q", running, pending)
	})
	w4 := c.AddWorker("w4", types.Resources{}, m1)
	c.Eventually(15*time.Second, "the fifth on the new node", func() (bool, string) {
		run, err := c.RunningTasks(m1, "capped")
		return err == nil && Sum(run) == 5 && run[w4.Name] == 1, fmt.Sprint(run, err)
	})
}
