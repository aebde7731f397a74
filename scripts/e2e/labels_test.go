package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// pendingReason is a service's task error as `service ps --no-trunc`
// shows it, for the tasks desired running and pending ("" when none).
func pendingReason(mgr *node, svc string) string {
	mgr.t.Helper()
	out := mgr.ok("service", "ps", "--no-trunc", "-f", "desired-state=running", "--format", "{{.CurrentState}}|{{.Error}}", svc)
	for _, l := range lines(out) {
		if state, reason, _ := strings.Cut(l, "|"); strings.HasPrefix(state, "Pending") {
			return reason
		}
	}
	return ""
}

// onlyOn reports whether the service's running containers, on the
// engine, are exactly want (by node hostname), checked by their
// com.sw.node.id label.
func onlyOn(t *testing.T, svc string, nodes []*node, want map[string]int) func() (bool, string) {
	return func() (bool, string) {
		got := runningContainers(t, svc, nodes...)
		return describe(got) == describe(want), "containers " + describe(got)
	}
}

// TestLabelsConstraints: node labels set and shown; a constrained
// service runs only where its constraints hold; one that no node meets
// stays pending with the reason and runs once a node gets the label; a
// node that loses the label loses the task; role constraints; global
// services; bad syntax refused.
func TestLabelsConstraints(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "lbl", 1, 2)
	m, w1, w2 := ns[0], ns[1], ns[2]

	if got := m.ok("node", "update", "--label-add", "zone=east", "--label-add", "tier=db", w1.name); strings.TrimSpace(got) != w1.name {
		t.Fatalf("node update printed %q", got)
	}
	if got := strings.TrimSpace(m.ok("node", "inspect", "--format", "{{.Labels.zone}} {{.Labels.tier}}", w1.name)); got != "east db" {
		t.Fatalf("inspect labels: %q", got)
	}
	if pretty := m.ok("node", "inspect", "--pretty", w1.name); !strings.Contains(pretty, "Labels:\n - tier=db\n - zone=east\n") {
		t.Fatalf("inspect --pretty has no sorted Labels section:\n%s", pretty)
	}
	r := m.sw("node", "update", "--label-rm", "nosuch", w1.name)
	if r.code == 0 || !strings.Contains(r.stderr, "key nosuch doesn't exist in node's labels") {
		t.Fatalf("label-rm of a missing key: %+v", r)
	}

	// Two replicas, one qualifying node: both there.
	m.ok("service", "create", "--name", "lbl-east", "--replicas", "2", "--constraint", "node.labels.zone==east", demoImage)
	eventually(t, 15*time.Second, "both tasks on "+w1.name, onlyOn(t, "lbl-east", ns, map[string]int{w1.name: 2}))
	if got := strings.TrimSpace(m.ok("service", "inspect", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}}", "lbl-east")); got != `["node.labels.zone==east"]` {
		t.Fatalf("inspect constraints: %s", got)
	}
	if pretty := m.ok("service", "inspect", "--pretty", "lbl-east"); !strings.Contains(pretty, "Placement:\n Constraints:\t[node.labels.zone==east]") {
		t.Fatalf("service inspect --pretty:\n%s", pretty)
	}

	// No node qualifies: pending, with the reason, until one does.
	m.ok("service", "create", "-d", "--name", "lbl-west", "--constraint", "node.labels.zone==west", demoImage)
	const reason = `"no suitable node (scheduling constraints not satisfied on 3 nodes)"`
	eventually(t, 10*time.Second, "the task pending with the reason", func() (bool, string) {
		got := pendingReason(m, "lbl-west")
		return got == reason, got
	})
	m.ok("node", "update", "--label-add", "zone=west", w2.name)
	took := eventually(t, 15*time.Second, "the pending task running on "+w2.name, onlyOn(t, "lbl-west", ns, map[string]int{w2.name: 1}))
	t.Logf("placed %s after the label was added", took.Round(100*time.Millisecond))

	// The node loses the label: the task leaves it and waits again.
	m.ok("node", "update", "--label-rm", "zone", w2.name)
	eventually(t, 15*time.Second, "the task off "+w2.name+" and pending again", func() (bool, string) {
		got := runningContainers(t, "lbl-west", ns...)
		p := pendingReason(m, "lbl-west")
		return len(got) == 0 && p == reason, "containers " + describe(got) + ", pending " + p
	})

	// Updating the constraints replaces the pending task.
	m.ok("service", "update", "--constraint-rm", "node.labels.zone==west", "--constraint-add", "node.labels.zone==east", "lbl-west")
	eventually(t, 15*time.Second, "the updated service on "+w1.name, onlyOn(t, "lbl-west", ns, map[string]int{w1.name: 1}))

	// Role constraints.
	m.ok("service", "create", "--name", "lbl-mgr", "--replicas", "2", "--constraint", "node.role==manager", demoImage)
	eventually(t, 15*time.Second, "both tasks on the manager", onlyOn(t, "lbl-mgr", ns, map[string]int{m.name: 2}))
	m.ok("service", "create", "--name", "lbl-glob", "--mode", "global", "--constraint", "node.role!=manager", demoImage)
	eventually(t, 15*time.Second, "one task on each worker", onlyOn(t, "lbl-glob", ns, map[string]int{w1.name: 1, w2.name: 1}))
	steady(t, 2*time.Second, "no global task on the manager", func() (bool, string) {
		rows := serviceTasks(m, "lbl-glob")
		return len(rows) == 2, fmt.Sprint(rows)
	})

	// Bad syntax and unknown keys: an error, nothing created.
	for _, bad := range []string{"node.labels.zone=east", "node.colour==red", "node.role==boss"} {
		r := m.sw("service", "create", "--name", "lbl-bad", "--constraint", bad, demoImage)
		if r.code == 0 || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "labels: invalid constraint") || r.stdout != "" {
			t.Fatalf("create with constraint %q: %+v", bad, r)
		}
	}
	r = m.sw("service", "update", "--constraint-add", "zone==east", "lbl-east")
	if r.code == 0 || !strings.Contains(r.stderr, "labels: invalid constraint") {
		t.Fatalf("update with a bad constraint: %+v", r)
	}
	if ls := m.ok("service", "ls", "--format", "{{.Name}}"); strings.Contains(ls, "lbl-bad") {
		t.Fatalf("a service with a bad constraint was created:\n%s", ls)
	}
}

// TestLabelsPluginDisable: labels is on in a new swarm; disabled, it
// refuses --constraint and --label-add by name and changes nothing, while
// constrained tasks stay where they are; enabled again, both work.
func TestLabelsPluginDisable(t *testing.T) {
	t.Parallel()
	n := newNode(t, "lbl-off")
	n.initSwarm()
	if ls := n.ok("plugin", "ls", "--format", "{{.Name}}={{.Enabled}}"); !strings.Contains(ls, "labels=true") {
		t.Fatalf("labels not on by default:\n%s", ls)
	}
	n.ok("node", "update", "--label-add", "zone=east", n.name)
	n.ok("service", "create", "--name", "pinned", "--constraint", "node.labels.zone==east", demoImage)
	before := n.containers(false)
	if len(before) != 1 {
		t.Fatalf("containers: %v", before)
	}

	n.ok("plugin", "disable", "labels")
	r := n.sw("service", "create", "--name", "off", "--constraint", "node.labels.zone==east", demoImage)
	if r.code == 0 || !strings.Contains(r.stderr, "plugin labels is disabled") {
		t.Fatalf("create with --constraint while disabled: %+v", r)
	}
	r = n.sw("node", "update", "--label-add", "disk=ssd", n.name)
	if r.code == 0 || !strings.Contains(r.stderr, "plugin labels is disabled") {
		t.Fatalf("label-add while disabled: %+v", r)
	}
	r = n.sw("service", "update", "--constraint-add", "node.role==manager", "pinned")
	if r.code == 0 || !strings.Contains(r.stderr, "plugin labels is disabled") {
		t.Fatalf("constraint-add while disabled: %+v", r)
	}
	if got := strings.TrimSpace(n.ok("node", "inspect", "--format", "{{json .Labels}}", n.name)); got != `{"zone":"east"}` {
		t.Fatalf("labels changed while disabled: %s", got)
	}
	if ls := n.ok("service", "ls", "--format", "{{.Name}}"); strings.Contains(ls, "off") {
		t.Fatalf("a constrained service was created while disabled:\n%s", ls)
	}
	// An unconstrained service is not the plugin's business.
	n.ok("service", "create", "--name", "plain", demoImage)
	steady(t, 2*time.Second, "the constrained task left alone", func() (bool, string) {
		now := n.containers(false)
		for name, id := range before {
			if now[name] != id {
				return false, fmt.Sprint(now)
			}
		}
		return true, ""
	})

	n.ok("plugin", "enable", "labels")
	n.ok("node", "update", "--label-add", "disk=ssd", n.name)
	n.ok("service", "create", "--name", "on", "--constraint", "node.labels.disk==ssd", demoImage)
	if got := strings.TrimSpace(n.ok("node", "inspect", "--format", "{{.Labels.disk}}", n.name)); got != "ssd" {
		t.Fatalf("label after enable: %q", got)
	}
}
