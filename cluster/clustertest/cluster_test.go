package clustertest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/types"
)

func replicated(name string, replicas uint64) types.ServiceSpec {
	return types.ServiceSpec{Name: name, Replicas: replicas, Container: types.ContainerSpec{Image: "fake:1"}}
}

// runningTasks is Cluster.RunningTasks with its error folded into the
// count's description: nil (no task counted) when the read failed.
func runningTasks(c *Cluster, via *Node, service string) map[string]int {
	m, err := c.RunningTasks(via, service)
	if err != nil {
		return nil
	}
	return m
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

// sameCounts reports whether two counts by node agree (zero counts left
// out of either).
func sameCounts(a, b map[string]int) bool {
	for k, v := range a {
		if v != 0 && b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if v != 0 && a[k] != v {
			return false
		}
	}
	return true
}

// wantAPIError fails the test unless err is the daemon's answer with the
// given HTTP status and a message containing every one of want.
func wantAPIError(t *testing.T, what string, err error, status int, want ...string) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("%s: got %v, want an API error %d mentioning %q", what, err, status, want)
	}
	if ae.Status != status {
		t.Errorf("%s: status %d, want %d (%s)", what, ae.Status, status, ae.Message)
	}
	for _, w := range want {
		if !strings.Contains(ae.Message, w) {
			t.Errorf("%s: %q does not mention %q", what, ae.Message, w)
		}
	}
}

// allReady checks that via lists exactly the cluster's nodes, every one
// Ready, and names a leader among its managers.
func allReady(c *Cluster, via *Node) (bool, string) {
	st, err := c.Statuses(via)
	if err != nil {
		return false, err.Error()
	}
	leaders := 0
	ok := len(st) == len(c.Nodes)
	for _, n := range c.Nodes {
		s := st[n.Name]
		ok = ok && s.State == types.NodeReady
		if s.Leader {
			leaders++
			ok = ok && s.Manager()
		}
	}
	return ok && leaders == 1, fmt.Sprint(st)
}

// TestJoinAndSpread: three managers and two workers form a swarm; a
// service of ten replicas runs as ten fake containers over the five
// nodes, and the store agrees with the engines.
func TestJoinAndSpread(t *testing.T) {
	t.Parallel()
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

// TestRestartKeepsTasks: a worker's daemon restarted (its containers
// still running) adopts them: no task is replaced, none runs twice.
func TestRestartKeepsTasks(t *testing.T) {
	t.Parallel()
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
	// A wrong replacement would show within a second.
	c.Steady(time.Second, "4 running tasks on 4 containers, none started", func() (bool, string) {
		got := Sum(runningTasks(c, m, "web"))
		return got == 4 && w.Engine.Starts() == before && Sum(c.Running()) == 4,
			fmt.Sprintf("%d running tasks, %d starts before the restart and %d after, running %v", got, before, w.Engine.Starts(), c.Running())
	})
}
