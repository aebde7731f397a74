package e2e

import (
	"strings"
	"testing"
	"time"
)

// joinAs joins n to the swarm managed by m with the role's token.
func joinAs(t *testing.T, m, n *node, role string) {
	t.Helper()
	token := strings.TrimSpace(m.ok("swarm", "join-token", "-q", role))
	out := n.ok("swarm", "join", "--token", token, "--listen-addr", n.ip+":2377", m.ip+":2377")
	if !strings.Contains(out, "joined a swarm as a "+role) {
		t.Fatalf("join as %s: %q", role, out)
	}
	n.id = strings.TrimSpace(n.ok("info", "--format", "{{.NodeID}}"))
}

// tasksOn counts the running tasks of a service per node hostname.
func tasksOn(t *testing.T, m *node, svc string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, l := range lines(m.ok("service", "ps", "-f", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}", svc)) {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == "Running" {
			out[f[0]]++
		}
	}
	return out
}

// TestNodeAvailability: drain moves tasks off a node; pause keeps them
// but places no new ones there.
func TestNodeAvailability(t *testing.T) {
	t.Parallel()
	m, w := newNode(t, "avail-m"), newNode(t, "avail-w")
	m.initSwarm()
	joinAs(t, m, w, "worker")
	m.ok("service", "create", "--name", "web", "--replicas", "4", demoImage)
	if got := tasksOn(t, m, "web"); got["avail-w"] != 2 || got["avail-m"] != 2 {
		t.Fatalf("spread before drain: %v", got)
	}
	m.ok("node", "update", "--availability", "drain", "avail-w")
	waitFor(t, 20*time.Second, "drained worker emptied", func() bool {
		got := tasksOn(t, m, "web")
		return got["avail-w"] == 0 && got["avail-m"] == 4 && len(w.containers(false)) == 0
	})
	if row := m.ok("node", "ls", "-f", "name=avail-w", "--format", "{{.Availability}}"); strings.TrimSpace(row) != "Drain" {
		t.Fatalf("availability shown %q", row)
	}
	m.ok("node", "update", "--availability", "active", "avail-w")
	m.ok("service", "scale", "web=6")
	if got := tasksOn(t, m, "web"); got["avail-w"] != 2 {
		t.Fatalf("new tasks after reactivation: %v", got)
	}
	m.ok("node", "update", "--availability", "pause", "avail-w")
	m.ok("service", "scale", "web=8")
	if got := tasksOn(t, m, "web"); got["avail-w"] != 2 || got["avail-m"] != 6 {
		t.Fatalf("paused node: want its 2 tasks kept and no new ones, got %v", got)
	}
	if r := m.sw("node", "update", "--availability", "sleepy", "avail-w"); r.code == 0 || !strings.Contains(r.stderr, "invalid availability") {
		t.Fatalf("bad availability: %+v", r)
	}
}

// TestPromoteDemote: a promoted worker becomes a voting manager that can
// answer for the swarm; demoting the leader hands leadership over and
// turns it into a worker, with the swarm writable throughout.
func TestPromoteDemote(t *testing.T) {
	t.Parallel()
	m, a, b := newNode(t, "pd-m"), newNode(t, "pd-a"), newNode(t, "pd-b")
	m.initSwarm()
	joinAs(t, m, a, "worker")
	joinAs(t, m, b, "worker")
	m.ok("service", "create", "--name", "web", "--replicas", "3", demoImage)
	if r := m.sw("node", "demote", "pd-m"); r.code == 0 || !strings.Contains(r.stderr, "last manager") {
		t.Fatalf("demoting the last manager: %+v", r)
	}
	r := m.sw("node", "promote", "pd-a")
	if r.code != 0 || !strings.Contains(r.stderr, "even number") {
		t.Fatalf("promote: %+v (want a warning about an even number of managers)", r)
	}
	waitFor(t, 20*time.Second, "promoted node answers as a manager", func() bool {
		return a.sw("node", "ls").code == 0
	})
	waitFor(t, 15*time.Second, "promoted node Ready and Reachable", func() bool {
		st := strings.TrimSpace(m.ok("node", "ls", "-f", "name=pd-a", "--format", "{{.Status}} {{.ManagerStatus}}"))
		return st == "Ready Reachable"
	})
	a.ok("node", "demote", "pd-m")
	waitFor(t, 20*time.Second, "leadership moved to the promoted node", func() bool {
		r := a.sw("node", "ls", "-f", "name=pd-a", "--format", "{{.ManagerStatus}}")
		return r.code == 0 && strings.TrimSpace(r.stdout) == "Leader"
	})
	waitFor(t, 20*time.Second, "demoted node refuses cluster reads", func() bool {
		r := m.sw("node", "ls")
		return r.code != 0 && strings.Contains(r.stderr, "not a swarm manager")
	})
	a.ok("service", "scale", "web=4")
	if got := strings.TrimSpace(a.ok("service", "ls", "--format", "{{.Replicas}}")); got != "4/4" {
		t.Fatalf("replicas after role changes: %q", got)
	}
}

// TestNodeRemove: managers and live nodes are protected; a down worker can
// be removed and disappears from the list.
func TestNodeRemove(t *testing.T) {
	t.Parallel()
	m, w := newNode(t, "rm-m"), newNode(t, "rm-w")
	m.initSwarm()
	joinAs(t, m, w, "worker")
	if r := m.sw("node", "rm", "rm-m"); r.code == 0 || !strings.Contains(r.stderr, "demoted to worker before removal") {
		t.Fatalf("rm of a manager: %+v", r)
	}
	if r := m.sw("node", "rm", "rm-w"); r.code == 0 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("rm of a ready worker: %+v", r)
	}
	w.kill()
	waitFor(t, 15*time.Second, "worker down", func() bool {
		return strings.TrimSpace(m.ok("node", "ls", "-f", "name=rm-w", "--format", "{{.Status}}")) == "Down"
	})
	m.ok("node", "rm", "rm-w")
	if got := lines(m.ok("node", "ls", "-q")); len(got) != 1 {
		t.Fatalf("node ls after rm: %v", got)
	}
	// Its certificate is refused from now on: back up, it cannot reach the
	// managers' port and stays out of the node list.
	w.start()
	waitFor(t, 15*time.Second, "the removed node's handshake refused", func() bool {
		return strings.Contains(w.log.String(), "manager unreachable") && strings.Contains(w.log.String(), "tls")
	})
	if got := lines(m.ok("node", "ls", "-q")); len(got) != 1 {
		t.Fatalf("node ls after the removed node came back: %v", got)
	}
}
