package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestResources: limits reach the engine as container limits; the node
// reports its engine's memory; a reservation no node has room for stays
// PENDING with the reason, and is placed when a node with room joins
// (a second daemon on the same engine: nothing of it reserved yet); and,
// once more, when another service's reservation is released; malformed
// values are refused.
func TestResources(t *testing.T) {
	t.Parallel()
	n := newNode(t, "resources")
	n.initSwarm()
	mem, err := strconv.ParseInt(strings.TrimSpace(dockerOut(t, "info", "--format", "{{.MemTotal}}")), 10, 64)
	if err != nil || mem <= 0 {
		t.Fatalf("engine memory: %v", err)
	}
	if got := strings.TrimSpace(n.ok("node", "inspect", "--format", "{{.Description.Resources.MemoryBytes}}", "self")); got != fmt.Sprint(mem) {
		t.Errorf("node memory %s, want the engine's %d", got, mem)
	}

	n.ok("service", "create", "-q", "--name", "lim", "--limit-cpu", "0.5", "--limit-memory", "64M", "--limit-pids", "50",
		"--reserve-memory", "32M", demoImage)
	var cid string
	for name, id := range n.containers(false) {
		if strings.HasPrefix(name, "lim.1.") {
			cid = id
		}
	}
	if got := strings.TrimSpace(dockerOut(t, "inspect", "--format",
		"{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.MemoryReservation}}", cid)); got != "500000000 67108864 50 33554432" {
		t.Errorf("container limits %q", got)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec.TaskTemplate.Resources}}", "lim")); got !=
		`{"Limits":{"MemoryBytes":67108864,"NanoCPUs":500000000,"Pids":50},"Reservations":{"MemoryBytes":33554432}}` {
		t.Errorf("inspect Resources: %s", got)
	}

	// Three fifths of the node's memory, twice: the second waits.
	res := fmt.Sprint(mem * 3 / 5)
	n.ok("service", "create", "-q", "--name", "first", "--reserve-memory", res, demoImage)
	n.ok("service", "create", "-q", "-d", "--name", "second", "--reserve-memory", res, demoImage)
	waitFor(t, 10*time.Second, "second PENDING with the reason", func() bool {
		ts := n.taskStates("second")
		return len(ts) == 1 && ts[0].current == "Pending" && strings.Contains(ts[0].err, "insufficient resources on 1 node")
	})
	w := newNode(t, "resources-w")
	w.joinAs(n, "worker")
	waitFor(t, 20*time.Second, "second running on the node that joined", func() bool {
		ts := n.taskStates("second")
		return len(ts) == 1 && ts[0].current == "Running" &&
			strings.TrimSpace(n.ok("service", "ps", "--format", "{{.Node}}", "second")) == "resources-w"
	})
	// A third the same size waits, and takes first's place once first is
	// scaled down.
	n.ok("service", "create", "-q", "-d", "--name", "third", "--reserve-memory", res, demoImage)
	waitFor(t, 10*time.Second, "third PENDING on 2 full nodes", func() bool {
		ts := n.taskStates("third")
		return len(ts) == 1 && ts[0].current == "Pending" && strings.Contains(ts[0].err, "insufficient resources on 2 nodes")
	})
	n.ok("service", "scale", "first=0")
	waitFor(t, 20*time.Second, "third running once first let go", func() bool {
		ts := n.taskStates("third")
		return len(ts) == 1 && ts[0].current == "Running"
	})

	before := n.ok("service", "ls", "-q")
	for _, c := range []struct{ args, want string }{
		{"--reserve-memory 12Q", `invalid --reserve-memory "12Q": want an amount of memory such as 512M or 1G`},
		{"--limit-cpu -1", `invalid --limit-cpu "-1"`},
		{"--limit-memory 64M --reserve-memory 128M", "invalid memory reservation 134217728 bytes: above the limit of 67108864"},
	} {
		res := n.sw(append(append([]string{"service", "create", "--name", "bad"}, strings.Fields(c.args)...), demoImage)...)
		if res.code == 0 || !strings.Contains(res.stderr, c.want) {
			t.Errorf("create %s: exit %d, stderr %q, want %q", c.args, res.code, res.stderr, c.want)
		}
	}
	if after := n.ok("service", "ls", "-q"); after != before {
		t.Errorf("services changed by refused creates:\n%s\nthen\n%s", before, after)
	}
}

// TestPlacementPreferencesAndCap: --placement-pref and
// --replicas-max-per-node reach inspect in Docker's shape; the cap holds
// a task PENDING with the reason until an update lifts it; bad values are
// refused.
func TestPlacementPreferencesAndCap(t *testing.T) {
	t.Parallel()
	n := newNode(t, "placement")
	n.initSwarm()
	n.ok("service", "create", "-q", "-d", "--name", "web", "--replicas", "3", "--placement-pref", "spread=node.labels.zone",
		"--replicas-max-per-node", "2", demoImage)
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec.TaskTemplate.Placement}}", "web")); got !=
		`{"MaxReplicas":2,"Preferences":[{"Spread":{"SpreadDescriptor":"node.labels.zone"}}]}` {
		t.Errorf("inspect Placement: %s", got)
	}
	waitFor(t, 20*time.Second, "2 running and 1 PENDING at the cap", func() bool {
		running, pending := 0, 0
		for _, ts := range n.taskStates("web") {
			switch {
			case ts.current == "Running":
				running++
			case ts.current == "Pending" && strings.Contains(ts.err, "max replicas per node limit exceeded on 1 node"):
				pending++
			}
		}
		return running == 2 && pending == 1
	})
	if pretty := n.ok("service", "inspect", "--pretty", "web"); !strings.Contains(pretty, "  Spread:\tnode.labels.zone\n") ||
		!strings.Contains(pretty, " Max Replicas Per Node:\t2\n") {
		t.Errorf("inspect --pretty:\n%s", pretty)
	}
	n.ok("service", "update", "-q", "--replicas-max-per-node", "0", "--placement-pref-rm", "spread=node.labels.zone", "web")
	waitFor(t, 20*time.Second, "3 running with no cap", func() bool {
		running := 0
		for _, ts := range n.taskStates("web") {
			if ts.current == "Running" && ts.desired == "Running" {
				running++
			}
		}
		return running == 3
	})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"service", "update", "--placement-pref-add", "spread=node.hostname", "web"}, `invalid placement preference "spread=node.hostname"`},
		{[]string{"service", "update", "--replicas-max-per-node", "-1", "web"}, `invalid --replicas-max-per-node "-1"`},
		{[]string{"service", "create", "--mode", "global", "--replicas-max-per-node", "1", demoImage}, "replicas-max-per-node can only be used with replicated or replicated-job mode"},
	} {
		if res := n.sw(c.args...); res.code == 0 || !strings.Contains(res.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, res.code, res.stderr, c.want)
		}
	}
}
