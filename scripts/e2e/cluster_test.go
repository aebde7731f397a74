package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Multi-node swarms: every node is its own daemon on its own loopback
// address, all on the local engine. Services are named after their test so
// the engine-side counts (filtered by node ID too) never mix tests.

// TestJoinTokens: worker and manager tokens admit with their role; a
// malformed token, a wrong secret, another swarm's token and a rotated
// token are refused with a clear error and leave the node inactive; node
// ls works on every manager (one Leader) and is refused on workers.
func TestJoinTokens(t *testing.T) {
	t.Parallel()
	m1 := newNode(t, "jt-m1")
	m2 := newNode(t, "jt-m2")
	w1 := newNode(t, "jt-w1")
	x := newNode(t, "jt-x") // tries every bad token, then joins with a good one
	other := newNode(t, "jt-other")
	m1.initSwarm()
	other.initSwarm()

	wtok, mtok := m1.joinToken("worker"), m1.joinToken("manager")
	if wtok == mtok {
		t.Fatalf("worker and manager tokens are the same: %s", wtok)
	}
	m2.joinWith(m1, mtok, "manager")
	w1.joinWith(m1, wtok, "worker")
	if got := strings.TrimSpace(m2.ok("info", "--format", "{{.IsManager}}")); got != "true" {
		t.Fatalf("manager-token node: IsManager = %q", got)
	}
	if got := strings.TrimSpace(w1.ok("info", "--format", "{{.IsManager}}")); got != "false" {
		t.Fatalf("worker-token node: IsManager = %q", got)
	}
	if got := m2.joinToken("worker"); got != wtok {
		t.Fatalf("second manager shows worker token %s, first shows %s", got, wtok)
	}

	refused := func(what, token, want string) {
		t.Helper()
		r := x.tryJoin(m1, token)
		if r.code == 0 || r.stdout != "" || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, want) {
			t.Errorf("join with %s: exit %d, stdout %q, stderr %q; want a refusal mentioning %q", what, r.code, r.stdout, r.stderr, want)
		}
		if info := x.ok("info"); !strings.Contains(info, "Swarm: inactive") {
			t.Errorf("after the refused join with %s the node is not inactive:\n%s", what, info)
		}
	}
	refused("a malformed token", "SWMTKN-1-nonsense", "invalid join token")
	refused("a non-token", "hello", "invalid join token")
	refused("a wrong secret", wrongSecret(wtok), "invalid join token")
	refused("a wrong secret in a manager token", wrongSecret(mtok), "invalid join token")
	refused("another swarm's token", other.joinToken("worker"), "CA does not match")

	rot := m1.ok("swarm", "join-token", "--rotate", "worker")
	if !strings.Contains(rot, "Successfully rotated worker join token.") {
		t.Fatalf("rotate output:\n%s", rot)
	}
	newTok := m1.joinToken("worker")
	if newTok == wtok {
		t.Fatal("rotate left the worker token unchanged")
	}
	if got := m1.joinToken("manager"); got != mtok {
		t.Fatal("rotating the worker token changed the manager token")
	}
	waitFor(t, 5*time.Second, "the rotated token on the second manager", func() bool { return m2.joinToken("worker") == newTok })
	refused("the rotated-out worker token", wtok, "invalid join token")
	if t.Failed() {
		t.FailNow()
	}
	x.joinWith(m2, newTok, "worker") // through the second manager

	for _, w := range []*node{w1, x} {
		r := w.sw("node", "ls")
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "not a swarm manager") {
			t.Errorf("node ls on worker %s: %+v", w.name, r)
		}
	}
	want := map[string]nodeState{
		m1.name: {m1.id, "Ready", "Leader"},
		m2.name: {m2.id, "Ready", "Reachable"},
		w1.name: {w1.id, "Ready", ""},
		x.name:  {x.id, "Ready", ""},
	}
	for _, m := range []*node{m1, m2} {
		eventually(t, 10*time.Second, "node ls on "+m.name+" listing every node, one Leader", func() (bool, string) {
			st := nodeStates(m)
			if len(st) != len(want) {
				return false, fmt.Sprint(st)
			}
			for h, w := range want {
				if st[h] != w {
					return false, fmt.Sprint(st)
				}
			}
			return true, ""
		})
		if got := m.leaderID(); got != m1.id {
			t.Errorf("info on %s: LeaderID %q, want %s", m.name, got, m1.id)
		}
	}
	if st := nodeStates(other); len(st) != 1 {
		t.Errorf("the other swarm gained nodes: %v", st)
	}
}

// wrongSecret keeps a token's form and CA digest but changes the end of its
// secret.
func wrongSecret(tok string) string {
	b := []byte(tok)
	for i := len(b) - 4; i < len(b); i++ {
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
	}
	return string(b)
}

// TestWorkerLoss: a killed worker turns Down and its tasks run again on
// the other nodes; when it comes back it is Ready and its old containers
// are stopped, so no task runs twice.
func TestWorkerLoss(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "wl", 1, 2)
	m, w2 := ns[0], ns[2]
	const svc = "wl-web"
	m.ok("service", "create", "--name", svc, "--replicas", "6", demoImage)
	by := runningTasksByNode(m, svc)
	if sum(by) != 6 || len(by) != 3 {
		t.Fatalf("6 replicas on 3 nodes should reach every node: %s", describe(by))
	}
	if eng := runningContainers(t, svc, ns...); !sameCounts(eng, by) {
		t.Fatalf("engine runs %s, sw says %s", describe(eng), describe(by))
	}

	w2.kill()
	took := eventually(t, 15*time.Second, "the killed worker Down and 6 tasks running on the others", func() (bool, string) {
		st := nodeStates(m)
		by := runningTasksByNode(m, svc)
		eng := runningContainers(t, svc, ns[0], ns[1])
		seen := fmt.Sprintf("%s is %q; tasks %s; engine (live nodes) %s", w2.name, st[w2.name].status, describe(by), describe(eng))
		return st[w2.name].status == "Down" && sum(by) == 6 && by[w2.name] == 0 && sum(eng) == 6, seen
	})
	t.Logf("worker down and its tasks rescheduled %s after the kill", took.Round(100*time.Millisecond))
	// Replaced, they are told to go altogether: the worker removes their
	// containers if it returns.
	for _, r := range serviceTasks(m, svc) {
		if r.node == w2.name && r.desired != "Remove" {
			t.Errorf("task %s on the dead worker is desired %s, want Remove", r.name, r.desired)
		}
	}

	w2.start()
	took = eventually(t, 15*time.Second, "the restarted worker Ready", func() (bool, string) {
		st := nodeStates(m)
		return st[w2.name].status == "Ready", fmt.Sprint(st)
	})
	t.Logf("restarted worker Ready after %s", took.Round(100*time.Millisecond))
	eventually(t, 15*time.Second, "exactly 6 running containers of the service", func() (bool, string) {
		eng := runningContainers(t, svc, ns...)
		return sum(eng) == 6 && sameCounts(eng, runningTasksByNode(m, svc)), describe(eng)
	})
	for i := 0; i < 10; i++ { // and it stays so
		if eng := runningContainers(t, svc, ns...); sum(eng) != 6 {
			t.Fatalf("after the worker's return: %d running containers (%s), want 6", sum(eng), describe(eng))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := strings.TrimSpace(m.ok("service", "ls", "--format", "{{.Replicas}}", "-f", "name="+svc)); got != "6/6" {
		t.Fatalf("service ls replicas = %q", got)
	}
}

// TestLeaderFailover: killing the leader elects another manager, writes
// through a survivor succeed, the old leader shows Unreachable, the
// service converges without it, and the old leader rejoins as a follower.
func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "lf", 3, 1)
	m1, m2, m3 := ns[0], ns[1], ns[2]
	const svc = "lf-web"
	old := m1.id
	for _, m := range ns[:3] {
		if got := m.leaderID(); got != old {
			t.Fatalf("%s reports leader %q, want the first manager %s", m.name, got, old)
		}
	}
	m1.ok("service", "create", "--name", svc, "--replicas", "4", demoImage)

	m1.kill()
	killed := time.Now()
	var leader string
	took := eventually(t, 10*time.Second, "a new leader reported by both survivors", func() (bool, string) {
		l2, l3 := m2.leaderID(), m3.leaderID()
		leader = l2
		return l2 != "" && l2 != old && l2 == l3 && (l2 == m2.id || l2 == m3.id), fmt.Sprintf("m2 says %q, m3 says %q", l2, l3)
	})
	t.Logf("new leader after %s", took.Round(100*time.Millisecond))
	follower, lead := m2, m3
	if leader == m2.id {
		follower, lead = m3, m2
	}
	var last result
	eventually(t, 10*time.Second-time.Since(killed), "a write through the follower survivor", func() (bool, string) {
		last = follower.sw("service", "scale", "-d", svc+"=5")
		return last.code == 0, fmt.Sprintf("%+v", last)
	})
	t.Logf("write accepted %s after the kill", time.Since(killed).Round(100*time.Millisecond))

	eventually(t, 10*time.Second, "the old leader Down/Unreachable and one Leader", func() (bool, string) {
		st := nodeStates(lead)
		leaders := 0
		for _, s := range st {
			if s.manager == "Leader" {
				leaders++
			}
		}
		return st[m1.name].status == "Down" && st[m1.name].manager == "Unreachable" && leaders == 1 &&
			st[lead.name].manager == "Leader" && st[follower.name].manager == "Reachable", fmt.Sprint(st)
	})
	eventually(t, 20*time.Second, "5/5 tasks running on the live nodes", func() (bool, string) {
		by := runningTasksByNode(lead, svc)
		eng := runningContainers(t, svc, ns[1:]...)
		rep := strings.TrimSpace(lead.ok("service", "ls", "--format", "{{.Replicas}}", "-f", "name="+svc))
		return sum(by) == 5 && by[m1.name] == 0 && sameCounts(eng, by) && rep == "5/5",
			fmt.Sprintf("tasks %s, engine %s, replicas %s", describe(by), describe(eng), rep)
	})

	m1.start()
	took = eventually(t, 15*time.Second, "the old leader back, Ready and Reachable, following the new leader", func() (bool, string) {
		st := nodeStates(lead)
		l1 := m1.leaderID()
		return st[m1.name] == nodeState{m1.id, "Ready", "Reachable"} && l1 != "" && l1 == lead.leaderID(),
			fmt.Sprintf("%v; old leader says leader %q", st, l1)
	})
	t.Logf("old leader rejoined %s after its restart", took.Round(100*time.Millisecond))
	eventually(t, 15*time.Second, "exactly 5 running containers of the service", func() (bool, string) {
		eng := runningContainers(t, svc, ns...)
		return sum(eng) == 5, describe(eng)
	})
}

// TestQuorumLossAndRecovery: with two of three managers dead a write fails
// fast, naming quorum and the way out; when they return, writes work
// again by themselves.
func TestQuorumLossAndRecovery(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "ql", 3, 0)
	m1 := ns[0]
	const svc = "ql-web"
	m1.ok("service", "create", "--name", svc, "--replicas", "2", demoImage)

	ns[1].kill()
	ns[2].kill()
	var r result
	took := timed(func() { r = m1.sw("service", "scale", "-d", svc+"=3") })
	t.Logf("write without quorum failed after %s", took.Round(10*time.Millisecond))
	if r.code == 0 || !strings.Contains(r.stderr, "quorum") || !strings.Contains(r.stderr, "force-new-cluster") {
		t.Fatalf("write without quorum: %+v; want a failure naming quorum and --force-new-cluster", r)
	}
	if took >= 6*time.Second {
		t.Fatalf("write without quorum took %s to fail, want under 6s", took)
	}

	ns[1].start()
	ns[2].start()
	var last result
	took = eventually(t, 20*time.Second, "writes to work again", func() (bool, string) {
		last = m1.sw("service", "scale", "-d", svc+"=3")
		return last.code == 0, fmt.Sprintf("%+v", last)
	})
	t.Logf("writes work %s after the managers' restart", took.Round(100*time.Millisecond))
	eventually(t, 20*time.Second, "3/3 running, every manager Ready and one Leader", func() (bool, string) {
		st := nodeStates(m1)
		leaders, ready := 0, 0
		for _, s := range st {
			if s.manager == "Leader" {
				leaders++
			}
			if s.status == "Ready" {
				ready++
			}
		}
		eng := runningContainers(t, svc, ns...)
		rep := strings.TrimSpace(m1.ok("service", "ls", "--format", "{{.Replicas}}", "-f", "name="+svc))
		return leaders == 1 && ready == 3 && rep == "3/3" && sum(eng) == 3,
			fmt.Sprintf("nodes %v, replicas %s, engine %s", st, rep, describe(eng))
	})
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
	ns := newSwarm(t, "qs", 3, 1)
	m1, m2, m3 := ns[0], ns[1], ns[2]
	const svc = "qs-web"
	m1.ok("service", "create", "--name", svc, "--replicas", "3", demoImage)

	m1.kill()
	eventually(t, 10*time.Second, "the first manager recorded Down", func() (bool, string) {
		st := nodeStates(m3)
		return st[m1.name].status == "Down", fmt.Sprint(st)
	})
	m2.kill()
	if r := m3.sw("service", "scale", "-d", svc+"=4"); r.code == 0 || !strings.Contains(r.stderr, "quorum") {
		t.Fatalf("write without quorum: %+v", r)
	}
	m1.start()
	m2.start()
	var last result
	took := eventually(t, 20*time.Second, "writes to work again", func() (bool, string) {
		last = m3.sw("service", "scale", "-d", svc+"=4")
		return last.code == 0, fmt.Sprintf("%+v", last)
	})
	t.Logf("writes work %s after the managers' restart", took.Round(100*time.Millisecond))
	took = eventually(t, 15*time.Second, "every manager Ready with one Leader", func() (bool, string) { return allReady(m3, ns) })
	t.Logf("every manager Ready %s later", took.Round(100*time.Millisecond))
	steady(t, 6*time.Second, "every manager Ready with one Leader", func() (bool, string) { return allReady(m3, ns) })
	eventually(t, 15*time.Second, "4/4 running, the engine agreeing", func() (bool, string) {
		by := runningTasksByNode(m3, svc)
		eng := runningContainers(t, svc, ns...)
		return sum(by) == 4 && sameCounts(eng, by), fmt.Sprintf("tasks %s, engine %s", describe(by), describe(eng))
	})
}

// TestQuorumForceNewCluster: with two of three managers gone for good,
// `swarm init --force-new-cluster` on the survivor makes it the only
// voter with the state kept; writes work and the dead managers show Down.
func TestQuorumForceNewCluster(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "fnc", 3, 0)
	m1 := ns[0]
	const svc = "fnc-web"
	m1.ok("service", "create", "--name", svc, "--replicas", "3", demoImage)

	ns[1].kill()
	ns[2].kill()
	eventually(t, 10*time.Second, "the survivor to see no leader", func() (bool, string) {
		l := m1.leaderID()
		return l == "", "leader " + l
	})
	out := m1.ok("swarm", "init", "--force-new-cluster")
	if !strings.Contains(out, "Swarm recovered") || !strings.Contains(out, m1.id) {
		t.Fatalf("force-new-cluster output:\n%s", out)
	}
	if got := m1.leaderID(); got != m1.id {
		t.Fatalf("after force-new-cluster the leader is %q, want the survivor %s", got, m1.id)
	}
	m1.ok("service", "scale", "-d", svc+"=4")
	if got := strings.TrimSpace(m1.ok("service", "ls", "--format", "{{.Name}}")); got != svc {
		t.Fatalf("service ls after force-new-cluster: %q", got)
	}
	eventually(t, 15*time.Second, "the dead managers Down/Unreachable, the survivor Leader", func() (bool, string) {
		st := nodeStates(m1)
		ok := st[m1.name] == nodeState{m1.id, "Ready", "Leader"} && len(st) == 3
		for _, n := range ns[1:] {
			ok = ok && st[n.name] == nodeState{n.id, "Down", "Unreachable"}
		}
		return ok, fmt.Sprint(st)
	})
	eventually(t, 20*time.Second, "4/4 running on the survivor", func() (bool, string) {
		by := runningTasksByNode(m1, svc)
		eng := runningContainers(t, svc, m1)
		rep := strings.TrimSpace(m1.ok("service", "ls", "--format", "{{.Replicas}}"))
		return by[m1.name] == 4 && sum(by) == 4 && eng[m1.name] == 4 && rep == "4/4",
			fmt.Sprintf("tasks %s, engine %s, replicas %s", describe(by), describe(eng), rep)
	})
	m1.ok("service", "scale", "-d", svc+"=1") // and it keeps taking writes
}

// TestGlobalService: a global service runs one task on every node, and a
// node that joins later gets its own.
func TestGlobalService(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "gl", 1, 1)
	m := ns[0]
	const svc = "gl-web"
	m.ok("service", "create", "--name", svc, "--mode", "global", demoImage)
	onePerNode := func(nodes []*node) func() (bool, string) {
		return func() (bool, string) {
			by := runningTasksByNode(m, svc)
			eng := runningContainers(t, svc, nodes...)
			rep := strings.TrimSpace(m.ok("service", "ls", "--format", "{{.Replicas}}", "-f", "name="+svc))
			ok := len(by) == len(nodes) && sameCounts(eng, by) && rep == fmt.Sprintf("%d/%d", len(nodes), len(nodes))
			for _, n := range nodes {
				ok = ok && by[n.name] == 1
			}
			return ok, fmt.Sprintf("tasks %s, engine %s, replicas %s", describe(by), describe(eng), rep)
		}
	}
	eventually(t, 15*time.Second, "one task on each of the 2 nodes", onePerNode(ns))

	late := newNode(t, "gl-w2")
	late.joinAs(m, "worker")
	took := eventually(t, 15*time.Second, "one task on each of the 3 nodes", onePerNode(append(ns, late)))
	t.Logf("the late node's task ran %s after it joined", took.Round(100*time.Millisecond))
}

func sameCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
