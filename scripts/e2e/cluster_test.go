package e2e

import (
	"fmt"
	"maps"
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

// TestClusterCLI: what the CLI prints about a swarm, on a real one of
// three nodes taken from one manager to three, through the loss of its
// leader and then of its quorum, and back with --force-new-cluster: node
// ls's table and its STATUS, AVAILABILITY and MANAGER STATUS columns; the
// messages, warnings and refusals of node promote, demote, update and rm,
// with their exit codes; the error of a write without quorum; the
// recovery's output; and the service's real containers along the way.
// The behaviour behind it (who leads, what is Down, where tasks go, which
// changes are refused, what a returning node does) is tested in
// cluster/clustertest, in seconds.
func TestClusterCLI(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "cc", 1, 2)
	m1, w1, w2 := ns[0], ns[1], ns[2]
	const svc = "cc-web"
	m1.ok("service", "create", "--name", svc, "--replicas", "3", demoImage)
	if by, eng := runningTasksByNode(m1, svc), runningContainers(t, svc, ns...); sum(by) != 3 || !sameCounts(eng, by) {
		t.Fatalf("after create: tasks %s, engine %s", describe(by), describe(eng))
	}

	// The default table: a header, this node marked, one Leader.
	ls := lines(m1.ok("node", "ls"))
	if len(ls) != 4 || !strings.HasPrefix(ls[0], "ID ") {
		t.Fatalf("node ls:\n%s", strings.Join(ls, "\n"))
	}
	for _, h := range []string{"HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"} {
		if !strings.Contains(ls[0], h) {
			t.Errorf("node ls header lacks %q: %q", h, ls[0])
		}
	}
	for _, n := range ns {
		row := ""
		for _, l := range ls[1:] {
			if strings.HasPrefix(l, n.id) {
				row = l
			}
		}
		f := strings.Fields(strings.Replace(row, " *", "", 1))
		want := []string{n.id, n.name, "Ready", "Active"}
		if n == m1 {
			want = append(want, "Leader")
		}
		if len(f) < len(want) || strings.Join(f[:len(want)], " ") != strings.Join(want, " ") ||
			strings.Contains(row, " *") != (n == m1) || (n != m1 && len(f) != len(want)+1) {
			t.Errorf("node ls row of %s: %q, want %q (and * on the node asked only)", n.name, row, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	wantStates(t, m1, "one manager, two workers", map[string]nodeState{
		m1.name: {m1.id, "Ready", "Leader"}, w1.name: {w1.id, "Ready", ""}, w2.name: {w2.id, "Ready", ""}})

	// Refusals: "Error: …" on stderr, nothing on stdout, exit 1.
	refused := func(n *node, want string, args ...string) {
		t.Helper()
		r := n.sw(args...)
		if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, want) {
			t.Errorf("sw %s on %s: exit %d, stdout %q, stderr %q; want exit 1 and an error mentioning %q",
				strings.Join(args, " "), n.name, r.code, r.stdout, r.stderr, want)
		}
	}
	refused(m1, "attempting to demote the last manager of the swarm", "node", "demote", m1.name)
	refused(m1, "It must be demoted to worker before removal", "node", "rm", m1.name)
	refused(m1, "is not down and can't be removed; use --force", "node", "rm", w2.name)
	refused(m1, `invalid availability "sleepy": want active, pause or drain`, "node", "update", "--availability", "sleepy", w1.name)
	refused(w1, "this node is not a swarm manager", "node", "ls")

	// Availability, as the AVAILABILITY column shows it; drained, the
	// node's real container stops.
	for _, a := range []string{"drain", "pause", "active"} {
		if out := strings.TrimSpace(m1.ok("node", "update", "--availability", a, w2.name)); out != w2.name {
			t.Errorf("node update --availability %s printed %q, want the node", a, out)
		}
		got := strings.TrimSpace(m1.ok("node", "ls", "-f", "name="+w2.name, "--format", "{{.Availability}}"))
		if want := strings.ToUpper(a[:1]) + a[1:]; got != want {
			t.Errorf("availability %s shown as %q, want %q", a, got, want)
		}
		if a == "drain" {
			eventually(t, 20*time.Second, "the drained node's container stopped, 3 running elsewhere", func() (bool, string) {
				eng := runningContainers(t, svc, ns...)
				return eng[w2.name] == 0 && sum(eng) == 3, describe(eng)
			})
		}
	}

	// Promotion: to an even number of managers with a warning, to an odd
	// one without.
	r := m1.sw("node", "promote", w1.name)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "Node "+w1.name+" promoted to a manager in the swarm." ||
		!strings.HasPrefix(r.stderr, "Warning: the swarm will have 2 managers, an even number") {
		t.Fatalf("promote to 2 managers: %+v", r)
	}
	r = m1.sw("node", "promote", w2.name)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "Node "+w2.name+" promoted to a manager in the swarm." || r.stderr != "" {
		t.Fatalf("promote to 3 managers: %+v", r)
	}
	// node ls shows a promoted node Reachable as soon as the swarm has its
	// new role; it is a voter once it answers as a manager, following the
	// leader.
	for _, n := range []*node{w1, w2} {
		eventually(t, 20*time.Second, n.name+" answering node ls, following the leader", func() (bool, string) {
			r := n.sw("node", "ls")
			return r.code == 0 && n.leaderID() == m1.id, fmt.Sprintf("%+v, leader %q", r, n.leaderID())
		})
	}
	wantStates(t, m1, "three managers, one Leader", map[string]nodeState{
		m1.name: {m1.id, "Ready", "Leader"}, w1.name: {w1.id, "Ready", "Reachable"}, w2.name: {w2.id, "Ready", "Reachable"}})

	// The leader killed: Down and Unreachable; a write through a
	// survivor; the service back to full strength on the live nodes.
	m1.kill()
	var lead, follower *node
	eventually(t, 20*time.Second, "a new Leader, the old one Down and Unreachable", func() (bool, string) {
		st := nodeStates(w1)
		lead, follower = nil, nil
		switch {
		case st[w1.name] == nodeState{w1.id, "Ready", "Leader"} && st[w2.name] == nodeState{w2.id, "Ready", "Reachable"}:
			lead, follower = w1, w2
		case st[w2.name] == nodeState{w2.id, "Ready", "Leader"} && st[w1.name] == nodeState{w1.id, "Ready", "Reachable"}:
			lead, follower = w2, w1
		}
		return lead != nil && st[m1.name] == nodeState{m1.id, "Down", "Unreachable"}, fmt.Sprint(st)
	})
	eventually(t, 10*time.Second, "a write through the follower", func() (bool, string) {
		r = follower.sw("service", "scale", "-d", svc+"=4")
		return r.code == 0 && strings.TrimSpace(r.stdout) == svc+" scaled to 4", fmt.Sprintf("%+v", r)
	})
	eventually(t, 30*time.Second, "4/4 running on the live nodes", func() (bool, string) {
		by, eng := runningTasksByNode(lead, svc), runningContainers(t, svc, w1, w2)
		rep := strings.TrimSpace(lead.ok("service", "ls", "--format", "{{.Replicas}}", "-f", "name="+svc))
		return rep == "4/4" && sum(by) == 4 && sameCounts(eng, by), fmt.Sprintf("replicas %s, tasks %s, engine %s", rep, describe(by), describe(eng))
	})

	// Quorum lost: the write fails fast, naming quorum and the way out.
	follower.kill()
	var took time.Duration
	took = timed(func() { r = lead.sw("service", "scale", "-d", svc+"=5") })
	t.Logf("write without quorum failed after %s", took.Round(10*time.Millisecond))
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "quorum is lost") ||
		!strings.Contains(r.stderr, "'sw swarm init --force-new-cluster'") || took >= 6*time.Second {
		t.Fatalf("write without quorum, after %s: %+v; want exit 1 within 6 s, naming quorum and --force-new-cluster", took, r)
	}

	// Recovery: the survivor alone leads, with the state kept.
	out := strings.TrimSpace(lead.ok("swarm", "init", "--force-new-cluster"))
	if want := "Swarm recovered: current node (" + lead.id + ") is now the only manager of the swarm, with its state kept."; out != want {
		t.Fatalf("force-new-cluster printed %q, want %q", out, want)
	}
	if out := strings.TrimSpace(lead.ok("service", "scale", "-d", svc+"=5")); out != svc+" scaled to 5" {
		t.Fatalf("scale after the recovery printed %q", out)
	}
	wantStates(t, lead, "the survivor Leader, the dead managers Down and Unreachable", map[string]nodeState{
		lead.name: {lead.id, "Ready", "Leader"}, m1.name: {m1.id, "Down", "Unreachable"}, follower.name: {follower.id, "Down", "Unreachable"}})
	eventually(t, 30*time.Second, "5/5 running on the survivor", func() (bool, string) {
		eng := runningContainers(t, svc, lead)
		rep := strings.TrimSpace(lead.ok("service", "ls", "--format", "{{.Replicas}}"))
		return rep == "5/5" && eng[lead.name] == 5, fmt.Sprintf("replicas %s, engine %s", rep, describe(eng))
	})

	// The dead managers demoted (a warning while the count is even) and
	// removed.
	for i, n := range []*node{follower, m1} {
		r := lead.sw("node", "demote", n.name)
		warned := strings.HasPrefix(r.stderr, "Warning: the swarm will have 2 managers, an even number")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "Manager "+n.name+" demoted in the swarm." || warned != (i == 0) || (i == 1 && r.stderr != "") {
			t.Fatalf("demote %s: %+v", n.name, r)
		}
		if out := strings.TrimSpace(lead.ok("node", "rm", n.name)); out != n.name {
			t.Fatalf("node rm %s printed %q", n.name, out)
		}
		if got := lines(lead.ok("node", "ls", "-q")); len(got) != 2-i {
			t.Fatalf("node ls -q after removing %s: %v", n.name, got)
		}
	}
	wantStates(t, lead, "the survivor alone", map[string]nodeState{lead.name: {lead.id, "Ready", "Leader"}})
}

// wantStates waits until node ls on via shows exactly want.
func wantStates(t *testing.T, via *node, what string, want map[string]nodeState) {
	t.Helper()
	eventually(t, 20*time.Second, "node ls on "+via.name+": "+what, func() (bool, string) {
		st := nodeStates(via)
		return maps.Equal(st, want), fmt.Sprint(st)
	})
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
