package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// Helpers for multi-node swarms: every node is a separate daemon from
// newNode on its own loopback address; managers listen on IP:2377.

// joinToken prints a manager's current join token for role.
func (n *node) joinToken(role string) string {
	n.t.Helper()
	tok := strings.TrimSpace(n.ok("swarm", "join-token", "-q", role))
	if !strings.HasPrefix(tok, "SWMTKN-1-") {
		n.t.Fatalf("join-token -q %s on %s: %q", role, n.name, tok)
	}
	return tok
}

// tryJoin runs `swarm join` on n with token against the manager mgr.
func (n *node) tryJoin(mgr *node, token string) result {
	n.t.Helper()
	return n.sw("swarm", "join", "--token", token, "--listen-addr", n.ip+":2377", mgr.ip+":2377")
}

// joinWith joins n to mgr's swarm with token, expecting role, and records
// the node's ID (so cleanup removes its containers).
func (n *node) joinWith(mgr *node, token, role string) {
	n.t.Helper()
	r := n.tryJoin(mgr, token)
	if r.code != 0 {
		n.t.Fatalf("%s: swarm join as %s: exit %d\nstdout: %s\nstderr: %s", n.name, role, r.code, r.stdout, r.stderr)
	}
	if want := "This node joined a swarm as a " + role + "."; strings.TrimSpace(r.stdout) != want {
		n.t.Fatalf("%s: swarm join printed %q, want %q", n.name, r.stdout, want)
	}
	n.id = strings.TrimSpace(n.ok("info", "--format", "{{.NodeID}}"))
	if len(n.id) != 25 {
		n.t.Fatalf("%s: node ID %q after join is not 25 characters", n.name, n.id)
	}
}

// joinAs fetches mgr's token for role and joins n with it.
func (n *node) joinAs(mgr *node, role string) {
	n.t.Helper()
	n.joinWith(mgr, mgr.joinToken(role), role)
}

// newSwarm starts managers+workers daemons named prefix-m1.., prefix-w1..;
// the first manager inits, the rest join through it. Managers come first.
// formSwarm makes nodes one swarm: the first inits, the next managers-1
// join as managers, the rest as workers. It returns the first.
func formSwarm(nodes []*node, managers int) *node {
	lead := nodes[0]
	lead.initSwarm()
	for i, n := range nodes[1:] {
		if i+1 < managers {
			n.joinAs(lead, "manager")
		} else {
			n.joinAs(lead, "worker")
		}
	}
	return lead
}

func newSwarm(t *testing.T, prefix string, managers, workers int) []*node {
	t.Helper()
	var nodes []*node
	for i := 1; i <= managers; i++ {
		nodes = append(nodes, newNode(t, fmt.Sprintf("%s-m%d", prefix, i)))
	}
	for i := 1; i <= workers; i++ {
		nodes = append(nodes, newNode(t, fmt.Sprintf("%s-w%d", prefix, i)))
	}
	lead := formSwarm(nodes, managers)
	waitFor(t, 15*time.Second, "every node Ready", func() bool {
		st := nodeStates(lead)
		if len(st) != len(nodes) {
			return false
		}
		for _, s := range st {
			if s.status != "Ready" {
				return false
			}
		}
		return true
	})
	return nodes
}

// nodeState is one row of `node ls`.
type nodeState struct{ id, status, manager string }

// nodeStates lists the swarm's nodes as a manager sees them, by hostname;
// nil when node ls fails.
func nodeStates(mgr *node) map[string]nodeState {
	mgr.t.Helper()
	r := mgr.sw("node", "ls", "--format", "{{.Hostname}}|{{.ID}}|{{.Status}}|{{.ManagerStatus}}")
	if r.code != 0 {
		return nil
	}
	out := map[string]nodeState{}
	for _, l := range lines(r.stdout) {
		f := strings.Split(l, "|")
		if len(f) == 4 {
			out[f[0]] = nodeState{id: f[1], status: f[2], manager: f[3]}
		}
	}
	return out
}

// leaderID is the leader as a node's `info` reports it ("" when none).
func (n *node) leaderID() string {
	n.t.Helper()
	r := n.sw("info", "--format", "{{.LeaderID}}")
	if r.code != 0 {
		return ""
	}
	return strings.TrimSpace(r.stdout)
}

// psRow is one line of `service ps`, as the tests need it.
type psRow struct{ name, node, desired, current string }

// serviceTasks lists a service's tasks (history included) through mgr.
func serviceTasks(mgr *node, svc string) []psRow {
	mgr.t.Helper()
	out := mgr.ok("service", "ps", "--format", "{{.Name}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}", svc)
	var rows []psRow
	for _, l := range lines(out) {
		f := strings.Split(l, "|")
		if len(f) == 4 {
			rows = append(rows, psRow{name: strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(f[0]), `\_`)),
				node: f[1], desired: f[2], current: f[3]})
		}
	}
	return rows
}

// runningTasksByNode counts the service's tasks that are desired running
// and running, per node hostname.
func runningTasksByNode(mgr *node, svc string) map[string]int {
	mgr.t.Helper()
	out := map[string]int{}
	for _, r := range serviceTasks(mgr, svc) {
		if r.desired == "Running" && strings.HasPrefix(r.current, "Running") {
			out[r.node]++
		}
	}
	return out
}

func sum(m map[string]int) int {
	k := 0
	for _, v := range m {
		k += v
	}
	return k
}

// runningContainers counts, on the engine, the running containers of
// service svc on each of the given nodes (by hostname) — only these nodes',
// so services of the same name in other tests do not count.
func runningContainers(t *testing.T, svc string, nodes ...*node) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range nodes {
		if n.id == "" {
			continue
		}
		ids := dockerOut(t, "ps", "-q", "--filter", "label=com.sw.node.id="+n.id, "--filter", "label=com.sw.service.name="+svc)
		if k := len(strings.Fields(ids)); k > 0 {
			out[n.name] = k
		}
	}
	return out
}

// describe renders a count map in a stable order for failure messages.
func describe(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

// timed runs f and returns how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// eventually polls cond like waitFor, and on timeout reports what cond
// last saw.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, seen := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// steady fails the test unless cond holds at every poll for d.
func steady(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if ok, seen := cond(); !ok {
			t.Fatalf("%s stopped holding %s into a %s watch; seen: %s", what, time.Since(start).Round(100*time.Millisecond), d, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// allReady checks that mgr lists exactly the given nodes, every one Ready,
// with exactly one Leader.
func allReady(mgr *node, nodes []*node) (bool, string) {
	st := nodeStates(mgr)
	leaders := 0
	for _, s := range st {
		if s.manager == "Leader" {
			leaders++
		}
	}
	ok := len(st) == len(nodes) && leaders == 1
	for _, n := range nodes {
		ok = ok && st[n.name].status == "Ready"
	}
	return ok, fmt.Sprint(st)
}

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
