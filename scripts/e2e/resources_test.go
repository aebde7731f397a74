package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestResources: limits reach the engine as container limits; the node
// reports its engine's memory; a reservation the node has no room for
// stays PENDING with the reason, and is placed once another service's
// reservation is released; malformed values are refused.
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
	n.ok("service", "scale", "first=0")
	waitFor(t, 20*time.Second, "second running once first let go", func() bool {
		ts := n.taskStates("second")
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
