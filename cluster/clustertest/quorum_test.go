package clustertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/types"
)

// wantNoQuorum fails the test unless err is the daemon's refusal of a
// write for want of a quorum: unavailable (503), naming the quorum and
// the way out.
func wantNoQuorum(t *testing.T, what string, err error) {
	t.Helper()
	wantAPIError(t, what, err, http.StatusServiceUnavailable, "quorum is lost", "sw swarm init --force-new-cluster")
}

// inspect reads a service through via, failing the test if it cannot.
func inspect(t *testing.T, c *Cluster, via *Node, name string) *types.Service {
	t.Helper()
	s, err := via.Client.Service(c.Ctx(10*time.Second), name)
	if err != nil {
		t.Fatalf("inspect %s on %s: %v", name, via.Name, err)
	}
	return s
}

// scaleWrite writes s back through via with replicas, at the version read
// before: a write alone (Cluster.Scale reads first, and a read needs a
// leader too).
func scaleWrite(c *Cluster, via *Node, s *types.Service, replicas uint64) error {
	spec := s.Spec
	spec.Replicas = replicas
	return via.Client.UpdateService(c.Ctx(30*time.Second), s.ID, s.Version, spec)
}

// TestQuorumLossAndRecovery: with two of three managers' daemons dead a
// write fails within 6 s, unavailable, naming quorum and
// --force-new-cluster; when they return, writes work again by themselves
// and the swarm converges with one leader.
func TestQuorumLossAndRecovery(t *testing.T) {
	t.Parallel()
	c := New(t, Options{Managers: 3})
	m1, m2, m3 := c.Node("m1"), c.Node("m2"), c.Node("m3")
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 2)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "2 running", func() (bool, string) { return Sum(c.Running()) == 2, fmt.Sprint(c.Running()) })

	web := inspect(t, c, m1, "web")
	c.Stop(m2)
	c.Stop(m3)
	start := time.Now()
	err := scaleWrite(c, m1, web, 3)
	took := time.Since(start)
	t.Logf("write without quorum failed after %v: %v", took.Round(time.Millisecond), err)
	wantNoQuorum(t, "a write without quorum", err)
	if took >= 6*time.Second {
		t.Errorf("the write without quorum took %v to fail, want under 6 s", took)
	}

	c.Start(m2)
	c.Start(m3)
	took = c.Eventually(20*time.Second, "writes to work again", func() (bool, string) {
		err := c.Scale(m1, "web", 3)
		return err == nil, fmt.Sprint(err)
	})
	t.Logf("writes work %v after the managers' restart", took.Round(time.Millisecond))
	c.Eventually(20*time.Second, "3 running, every manager Ready and one leader", func() (bool, string) {
		ready, msg := allReady(c, m1)
		by, run := runningTasks(c, m1, "web"), c.Running()
		return ready && Sum(by) == 3 && sameCounts(by, run), fmt.Sprint(msg, by, run)
	})
	c.Leader(10 * time.Second) // every manager agrees on it
}

// TestQuorumLostOneAfterAnother: managers fail one after the other — the
// first is recorded Down while quorum holds, then the second takes quorum
// with it. When both return, writes work and every node is Ready again and
// stays so: no live manager is left (or put) Down.
//
// A regression test: the first manager's saved peer list names only itself
// and the second's only the first, so the two restarted managers gossiped
// with each other alone; while the worker kept the survivor company,
// gossip rejoined only lone nodes, and the leader (the survivor) kept both
// returned managers Down for up to serf's 30 s reconnect interval (fixed
// by 4ffa02f's gossip rejoin of every missing manager).
func TestQuorumLostOneAfterAnother(t *testing.T) {
	t.Parallel()
	c := New(t, Options{Managers: 3, Workers: 1})
	m1, m2, m3 := c.Node("m1"), c.Node("m2"), c.Node("m3")
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 3)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "3 running", func() (bool, string) { return Sum(c.Running()) == 3, fmt.Sprint(c.Running()) })

	c.Stop(m1)
	c.Eventually(10*time.Second, "m1 recorded Down", func() (bool, string) {
		st, err := c.Statuses(m3)
		return err == nil && st["m1"].State == types.NodeDown, fmt.Sprint(st, err)
	})
	web := inspect(t, c, m3, "web")
	c.Stop(m2)
	wantNoQuorum(t, "a write without quorum", scaleWrite(c, m3, web, 4))
	c.Start(m1)
	c.Start(m2)
	took := c.Eventually(20*time.Second, "writes to work again", func() (bool, string) {
		err := c.Scale(m3, "web", 4)
		return err == nil, fmt.Sprint(err)
	})
	t.Logf("writes work %v after the managers' restart", took.Round(time.Millisecond))
	took = c.Eventually(15*time.Second, "every node Ready with one leader", func() (bool, string) { return allReady(c, m3) })
	t.Logf("every node Ready %v later", took.Round(time.Millisecond))
	c.Steady(6*time.Second, "every node Ready with one leader", func() (bool, string) { return allReady(c, m3) })
	c.Eventually(15*time.Second, "4 running, the engines agreeing", func() (bool, string) {
		by, run := runningTasks(c, m3, "web"), c.Running()
		return Sum(by) == 4 && sameCounts(by, run), fmt.Sprint(by, run)
	})
}

// TestQuorumLossAndForceNewCluster: with two of three managers' hosts gone
// for good, the survivor sees no leader, writes and reads fail with a
// clear error, and `swarm init --force-new-cluster` on the survivor makes
// it the only voter and the leader at once, its state kept: the services
// are there, writes work, the dead managers show Down (Unreachable) and
// their tasks run on the live nodes; they can then be demoted and removed.
func TestQuorumLossAndForceNewCluster(t *testing.T) {
	t.Parallel()
	c := New(t, Options{Managers: 3, Workers: 1})
	m1, m2, m3 := c.Node("m1"), c.Node("m2"), c.Node("m3")
	c.Leader(10 * time.Second)
	if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), replicated("kept", 4)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "4 running", func() (bool, string) { return Sum(c.Running()) == 4, fmt.Sprint(c.Running()) })
	c.Kill(m2)
	c.Kill(m3)
	c.Eventually(10*time.Second, "the survivor to see no leader", func() (bool, string) {
		info, err := m1.Client.Info(c.Ctx(2 * time.Second))
		return err == nil && info.LeaderID == "", fmt.Sprintf("leader %q (%v)", info.LeaderID, err)
	})
	_, err := m1.Client.CreateService(c.Ctx(20*time.Second), replicated("lost", 1))
	wantNoQuorum(t, "a write without quorum", err)
	if _, err := m1.Client.Services(c.Ctx(20 * time.Second)); err == nil {
		t.Fatal("a read without a leader succeeded")
	} else {
		wantAPIError(t, "a read without a leader", err, http.StatusServiceUnavailable)
	}

	resp, err := m1.Client.Init(c.Ctx(30*time.Second), api.InitRequest{ForceNewCluster: true})
	if err != nil {
		t.Fatalf("force-new-cluster: %v", err)
	}
	if resp.NodeID != m1.ID {
		t.Errorf("force-new-cluster names node %q, want the survivor %s", resp.NodeID, m1.ID)
	}
	if info, err := m1.Client.Info(c.Ctx(5 * time.Second)); err != nil || info.LeaderID != m1.ID {
		t.Fatalf("right after force-new-cluster the leader is %q (%v), want the survivor %s", info.LeaderID, err, m1.ID)
	}
	if err := c.Scale(m1, "kept", 5); err != nil {
		t.Fatalf("a write after force-new-cluster: %v", err)
	}
	svcs, err := m1.Client.Services(c.Ctx(10 * time.Second))
	if err != nil || len(svcs) != 1 || svcs[0].Spec.Name != "kept" {
		t.Fatalf("services after force-new-cluster: %v %v", svcs, err)
	}
	c.Eventually(15*time.Second, "the dead managers Down (Unreachable), the survivor Leader", func() (bool, string) {
		st, err := c.Statuses(m1)
		if err != nil {
			return false, err.Error()
		}
		ok := len(st) == 4 && st["m1"].Leader && st["m1"].State == types.NodeReady && st["w1"].State == types.NodeReady
		for _, n := range []string{"m2", "m3"} {
			ok = ok && st[n].Manager() && st[n].State == types.NodeDown && !st[n].Leader
		}
		return ok, fmt.Sprint(st)
	})
	c.Eventually(30*time.Second, "kept's 5 tasks running on the live nodes", func() (bool, string) {
		k, run := runningTasks(c, m1, "kept"), c.RunningOn(m1, c.Node("w1"))
		return Sum(k) == 5 && k["m2"] == 0 && k["m3"] == 0 && sameCounts(k, run), fmt.Sprint(k, run)
	})
	if err := c.Scale(m1, "kept", 1); err != nil { // and it keeps taking writes
		t.Fatalf("a second write after force-new-cluster: %v", err)
	}
	c.Eventually(15*time.Second, "kept down to 1 running", func() (bool, string) {
		k, run := runningTasks(c, m1, "kept"), c.Running()
		return Sum(k) == 1 && Sum(run) == 1, fmt.Sprint(k, run)
	})

	// The dead managers cleared out: demoted (a warning while the count
	// is even), then removed, leaving the survivor the only manager.
	for i, n := range []*Node{m2, m3} {
		resp, err := m1.Client.UpdateNode(c.Ctx(10*time.Second), n.Name, api.NodeUpdateRequest{Role: "worker"})
		if err != nil {
			t.Fatalf("demote the dead %s: %v", n.Name, err)
		}
		if even := strings.Contains(resp.Warning, "2 managers, an even number"); even != (i == 0) || (i == 1 && resp.Warning != "") {
			t.Errorf("demote the dead %s: warning %q", n.Name, resp.Warning)
		}
		if err := m1.Client.RemoveNode(c.Ctx(10*time.Second), n.Name, false); err != nil {
			t.Fatalf("rm the dead, demoted %s: %v", n.Name, err)
		}
	}
	st, err := c.Statuses(m1)
	if err != nil || len(st) != 2 || !st["m1"].Leader || st["w1"].State != types.NodeReady {
		t.Fatalf("after clearing out the dead managers: %v (%v)", st, err)
	}
	if info, err := m1.Client.Info(c.Ctx(5 * time.Second)); err != nil || info.Managers != 1 {
		t.Fatalf("after clearing out the dead managers: %d managers (%v), want 1", info.Managers, err)
	}
	if err := c.Scale(m1, "kept", 2); err != nil {
		t.Fatalf("a write with the survivor the only manager: %v", err)
	}
}
