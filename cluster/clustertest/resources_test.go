package clustertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

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
