package e2e

import (
	"context"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"sw/cluster/peer"
	"sw/cluster/store"
	"sw/cluster/types"
)

// rssMiB is a process's resident memory.
func rssMiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestUnreconcilableService: a stored service beyond the limits — written
// straight into the log, as one stored before the limits would be — is
// reported on the service and in service ps, never followed into
// unbounded work, survives a restart, and is reconciled once scaled down.
// A big valid service is made in bounded steps.
func TestUnreconcilableService(t *testing.T) {
	m := newNode(t, "lim")
	m.initSwarm()
	mgr := nodeCred(t, m, "the manager's own certificate")
	huge := &types.Service{ID: types.NewID(), Spec: types.ServiceSpec{Name: "lim-huge", Mode: types.ModeReplicated,
		Replicas: math.MaxUint64, Container: types.ContainerSpec{Image: demoImage, StopGracePeriod: time.Second},
		Restart: types.RestartPolicy{Condition: types.RestartAny}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := peer.NewClient(&peer.Dialer{TLS: mgr.tls}).Do(ctx, m.ip+":2377", http.MethodPost, peer.PathPropose, nil,
		peer.ProposeRequest{Command: store.Command{Changes: []store.Change{{CreateService: huge}}}}, nil)
	if err != nil {
		t.Fatalf("writing the service into the log: %v", err)
	}
	check := func(when string) {
		t.Helper()
		var msg string
		eventually(t, 10*time.Second, "the service reported "+when, func() (bool, string) {
			msg = strings.TrimSpace(m.ok("service", "inspect", "--format", "{{.ReconcileError}}", "lim-huge"))
			return strings.Contains(msg, "18446744073709551615 replicas, more than the maximum of 100000"), msg
		})
		r := m.sw("service", "ps", "lim-huge")
		if r.code != 0 || !strings.Contains(r.stderr, "Warning: service lim-huge: this service is not reconciled") {
			t.Fatalf("service ps %s: exit %d, stderr %q", when, r.code, r.stderr)
		}
		if len(lines(r.stdout)) != 1 { // the header only
			t.Fatalf("service ps %s lists tasks:\n%s", when, r.stdout)
		}
		if !strings.Contains(m.ok("service", "inspect", "--pretty", "lim-huge"), "Error:") {
			t.Fatalf("inspect --pretty %s does not show the error", when)
		}
		time.Sleep(2 * time.Second) // time enough to grow, if it would
		if mb := rssMiB(t, m.cmd.Process.Pid); mb > 250 {
			t.Fatalf("the daemon holds %d MiB %s", mb, when)
		}
		if n := len(lines(m.ok("service", "ps", "-q", "lim-huge"))); n != 0 {
			t.Fatalf("%d tasks made for an unreconcilable service %s", n, when)
		}
	}
	check("at once")
	m.kill()
	m.start()
	check("after a restart")

	m.ok("service", "update", "-d", "--replicas", "2", "lim-huge")
	eventually(t, 20*time.Second, "2 tasks once scaled down", func() (bool, string) {
		got := runningTasksByNode(m, "lim-huge")
		return sum(got) == 2, describe(got)
	})
	if msg := strings.TrimSpace(m.ok("service", "inspect", "--format", "{{if .ReconcileError}}{{.ReconcileError}}{{end}}", "lim-huge")); msg != "" {
		t.Fatalf("the report stayed after scaling down: %q", msg)
	}

	// A valid big service no node can take: made in bounded steps, every
	// task pending with its reason, the daemon answering all along.
	before := rssMiB(t, m.cmd.Process.Pid)
	m.ok("service", "create", "-d", "--name", "lim-big", "--replicas", "20000", "--constraint", "node.labels.nowhere==1", demoImage)
	eventually(t, 60*time.Second, "20000 pending tasks", func() (bool, string) {
		start := time.Now()
		out := m.ok("service", "ls", "--filter", "name=lim-big", "--format", "{{.Replicas}}")
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("service ls took %s while the tasks were made", d)
		}
		n := len(lines(m.ok("service", "ps", "-q", "lim-big")))
		return n == 20000, strconv.Itoa(n) + " tasks, replicas " + out
	})
	after := rssMiB(t, m.cmd.Process.Pid)
	t.Logf("RSS %d MiB before the 20000-task service, %d MiB after", before, after)
	if after > 600 {
		t.Fatalf("the daemon holds %d MiB for 20000 tasks", after)
	}
	m.ok("service", "rm", "lim-big")
}
