package clustertest

import (
	"fmt"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/types"
)

func replicated(name string, replicas uint64) types.ServiceSpec {
	return types.ServiceSpec{Name: name, Replicas: replicas, Container: types.ContainerSpec{Image: "fake:1"}}
}

// runningTasks counts the service's tasks the store says are RUNNING, by
// node name.
func runningTasks(c *Cluster, via *Node, service string) map[string]int {
	tasks, _, err := via.Client.Tasks(c.Ctx(5*time.Second), api.TaskQuery{})
	if err != nil {
		return map[string]int{"error": 1}
	}
	names := map[string]string{}
	for _, n := range c.Nodes {
		names[n.ID] = n.Name
	}
	out := map[string]int{}
	for _, t := range tasks {
		if t.ServiceName == service && t.DesiredState == types.TaskRunning && t.Status.State == types.TaskRunning {
			out[names[t.NodeID]]++
		}
	}
	return out
}

// TestJoinAndSpread: three managers and two workers form a swarm; a
// service of ten replicas runs as ten fake containers over the five
// nodes, and the store agrees with the engines.
func TestJoinAndSpread(t *testing.T) {
	c := New(t, Options{Managers: 3, Workers: 2})
	lead := c.Leader(10 * time.Second)
	nodes, err := lead.Client.Nodes(c.Ctx(5 * time.Second))
	if err != nil || len(nodes) != 5 {
		t.Fatalf("nodes: %d (%v), want 5", len(nodes), err)
	}
	managers := 0
	for _, n := range nodes {
		if n.Role == types.RoleManager {
			managers++
		}
	}
	if managers != 3 {
		t.Fatalf("%d managers, want 3", managers)
	}
	if _, err := c.Nodes[1].Client.CreateService(c.Ctx(10*time.Second), replicated("web", 10)); err != nil {
		t.Fatalf("create through a follower: %v", err)
	}
	c.Eventually(20*time.Second, "10 containers, 2 on each node", func() (bool, string) {
		run := c.Running()
		ok := Sum(run) == 10
		for _, n := range c.Nodes {
			ok = ok && run[n.Name] == 2
		}
		return ok && Sum(runningTasks(c, lead, "web")) == 10, fmt.Sprint(run)
	})
}

// TestLeaderFailover: the leader's host goes away; the other two managers
// elect a new leader, take writes, and the lost host's tasks run again
// elsewhere.
func TestLeaderFailover(t *testing.T) {
	c := New(t, Options{Managers: 3, Workers: 1})
	lead := c.Leader(10 * time.Second)
	if _, err := lead.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 8)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "8 running", func() (bool, string) {
		return Sum(c.Running()) == 8, fmt.Sprint(c.Running())
	})
	lost := len(lead.Engine.Running())
	if lost == 0 {
		t.Fatalf("the leader runs no task: %v", c.Running())
	}
	killed := time.Now()
	c.Kill(lead)
	next := c.Leader(15 * time.Second)
	if next == lead {
		t.Fatal("the killed manager is still the leader")
	}
	t.Logf("new leader %s after %v", next.Name, time.Since(killed).Round(time.Millisecond))
	if _, err := next.Client.CreateService(c.Ctx(10*time.Second), replicated("after", 2)); err != nil {
		t.Fatalf("a write after failover: %v", err)
	}
	c.Eventually(30*time.Second, "web back to 8 running tasks off the lost host, and after's 2", func() (bool, string) {
		web := runningTasks(c, next, "web")
		return Sum(web) == 8 && web[lead.Name] == 0 && Sum(runningTasks(c, next, "after")) == 2, fmt.Sprint(web)
	})
	t.Logf("%d tasks of the lost host rescheduled within %v of the kill", lost, time.Since(killed).Round(time.Millisecond))
}

// nodeByName returns the store's node of a harness node.
func nodeByName(c *Cluster, via *Node, name string) *types.Node {
	nodes, err := via.Client.Nodes(c.Ctx(5 * time.Second))
	if err != nil {
		return nil
	}
	for _, n := range nodes {
		if n.Hostname == name {
			return n
		}
	}
	return nil
}

// TestDrainMovesTasks: a drained worker's tasks stop there and run on the
// other nodes; made active again, it takes new tasks only (nothing moves
// back on its own, as in Docker).
func TestDrainMovesTasks(t *testing.T) {
	c := New(t, Options{Managers: 1, Workers: 2})
	m := c.Nodes[0]
	if _, err := m.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 6)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "6 running, 2 per node", func() (bool, string) {
		run := c.Running()
		return run["m1"] == 2 && run["w1"] == 2 && run["w2"] == 2, fmt.Sprint(run)
	})
	if _, err := m.Client.UpdateNode(c.Ctx(5*time.Second), "w1", api.NodeUpdateRequest{Availability: "drain"}); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "w1 empty, 6 running elsewhere", func() (bool, string) {
		run := c.Running()
		tasks := runningTasks(c, m, "web")
		return run["w1"] == 0 && Sum(run) == 6 && Sum(tasks) == 6 && tasks["w1"] == 0, fmt.Sprint(run, tasks)
	})
	if _, err := m.Client.UpdateNode(c.Ctx(5*time.Second), "w1", api.NodeUpdateRequest{Availability: "active"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Client.CreateService(c.Ctx(10*time.Second), types.ServiceSpec{Name: "everywhere", Mode: types.ModeGlobal,
		Container: types.ContainerSpec{Image: "fake:1"}}); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "the global service on all three, w1 included", func() (bool, string) {
		g := runningTasks(c, m, "everywhere")
		return g["m1"] == 1 && g["w1"] == 1 && g["w2"] == 1, fmt.Sprint(g)
	})
}

// TestPromoteDemote: a worker promoted becomes a Raft voter and can lead
// once the first manager is gone; the old manager demoted is a worker.
func TestPromoteDemote(t *testing.T) {
	c := New(t, Options{Managers: 1, Workers: 2})
	m1, w1, w2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	for _, n := range []*Node{w1, w2} {
		if _, err := m1.Client.UpdateNode(c.Ctx(10*time.Second), n.Name, api.NodeUpdateRequest{Role: "manager"}); err != nil {
			t.Fatalf("promote %s: %v", n.Name, err)
		}
	}
	c.Eventually(20*time.Second, "w1 and w2 managers answering for the swarm", func() (bool, string) {
		for _, n := range []*Node{w1, w2} {
			info, err := n.Client.Info(c.Ctx(2 * time.Second))
			if err != nil || !info.IsManager || info.Managers != 3 {
				return false, fmt.Sprintf("%s: %+v %v", n.Name, info, err)
			}
		}
		return true, ""
	})
	// Demote the first manager: the others hold the quorum and a leader.
	if _, err := w1.Client.UpdateNode(c.Ctx(10*time.Second), "m1", api.NodeUpdateRequest{Role: "worker"}); err != nil {
		t.Fatalf("demote m1: %v", err)
	}
	c.Eventually(20*time.Second, "m1 a worker, two managers left", func() (bool, string) {
		info, err := m1.Client.Info(c.Ctx(2 * time.Second))
		n := nodeByName(c, w1, "m1")
		return err == nil && !info.IsManager && n != nil && n.Role == types.RoleWorker, fmt.Sprintf("%+v %v", info, err)
	})
	lead := c.Leader(15 * time.Second)
	if lead == m1 {
		t.Fatal("the demoted node leads")
	}
	if _, err := lead.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 3)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "3 running over the three nodes", func() (bool, string) {
		return Sum(runningTasks(c, lead, "web")) == 3 && Sum(c.Running()) == 3, fmt.Sprint(c.Running())
	})
}

// TestQuorumLossAndForceNewCluster: with two of three managers gone,
// writes fail with a clear error and reads too, nothing is lost, and
// `swarm init --force-new-cluster` on the survivor brings the swarm back
// with its services.
func TestQuorumLossAndForceNewCluster(t *testing.T) {
	c := New(t, Options{Managers: 3, Workers: 1})
	m1, m2, m3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	c.Leader(10 * time.Second)
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), replicated("kept", 4)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "4 running", func() (bool, string) { return Sum(c.Running()) == 4, fmt.Sprint(c.Running()) })
	c.Kill(m2)
	c.Kill(m3)
	_, err := m1.Client.CreateService(c.Ctx(20*time.Second), replicated("lost", 1))
	if err == nil {
		t.Fatal("a write without a quorum succeeded")
	}
	t.Logf("write without quorum: %v", err)
	if _, err := m1.Client.Services(c.Ctx(20 * time.Second)); err == nil {
		t.Fatal("a read without a leader succeeded")
	}
	if _, err := m1.Client.Init(c.Ctx(30*time.Second), api.InitRequest{ForceNewCluster: true}); err != nil {
		t.Fatalf("force-new-cluster: %v", err)
	}
	if lead := c.Leader(15 * time.Second); lead != m1 {
		t.Fatalf("leader %s after force-new-cluster, want m1", lead.Name)
	}
	svcs, err := m1.Client.Services(c.Ctx(10 * time.Second))
	if err != nil || len(svcs) != 1 || svcs[0].Spec.Name != "kept" {
		t.Fatalf("services after force-new-cluster: %v %v", svcs, err)
	}
	c.Eventually(30*time.Second, "kept's 4 tasks running on the live nodes", func() (bool, string) {
		k := runningTasks(c, m1, "kept")
		return Sum(k) == 4 && k["m2"] == 0 && k["m3"] == 0, fmt.Sprint(k)
	})
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), replicated("after", 1)); err != nil {
		t.Fatalf("a write after force-new-cluster: %v", err)
	}
}

// TestRestartKeepsTasks: a worker's daemon restarted (its containers
// still running) adopts them: no task is replaced, none runs twice.
func TestRestartKeepsTasks(t *testing.T) {
	c := New(t, Options{Managers: 1, Workers: 1})
	m, w := c.Nodes[0], c.Nodes[1]
	if _, err := m.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 4)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "4 running", func() (bool, string) { return Sum(runningTasks(c, m, "web")) == 4, "" })
	before := w.Engine.Starts()
	c.Stop(w)
	c.Start(w)
	c.Eventually(20*time.Second, "w1 Ready again", func() (bool, string) {
		n := nodeByName(c, m, "w1")
		return n != nil && n.State == types.NodeReady, fmt.Sprint(n)
	})
	time.Sleep(time.Second) // time for a wrong replacement to show
	if got := Sum(runningTasks(c, m, "web")); got != 4 {
		t.Fatalf("%d running tasks after the restart, want 4", got)
	}
	if w.Engine.Starts() != before || Sum(c.Running()) != 4 {
		t.Fatalf("the restart started containers: %d starts before, %d after; running %v", before, w.Engine.Starts(), c.Running())
	}
}
