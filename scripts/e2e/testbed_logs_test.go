package e2e

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sw/cluster/peer"
)

// bedTask is a running task of a service as `service ps` shows it.
type bedTask struct{ id, slot, host string }

// runningBedTasks lists the running tasks of svc by slot, full IDs.
func runningBedTasks(mgr *node, svc string) map[string]bedTask {
	mgr.t.Helper()
	out := map[string]bedTask{}
	r := mgr.sw("service", "ps", "--no-trunc", "--format", "{{.ID}}|{{.Name}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}", svc)
	for _, l := range lines(r.stdout) {
		f := strings.Split(l, "|")
		if len(f) != 5 || f[3] != "Running" || !strings.HasPrefix(f[4], "Running") {
			continue
		}
		name := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(f[1]), `\_`))
		slot := name[strings.LastIndex(name, ".")+1:]
		out[slot] = bedTask{id: f[0], slot: slot, host: f[2]}
	}
	return out
}

// logLine is one line of `service logs`: Docker's prefix, then the
// container's line.
var logLine = regexp.MustCompile(`^chat\.([0-9]+)\.([0-9a-z]{12})@(host[0-9]+)\s+\| (.*)$`)

// checkLogLines checks that every line of out carries a running task's
// prefix (its slot, its ID, the host it runs on) and returns the
// container lines by slot.
func checkLogLines(t *testing.T, out string, tasks map[string]bedTask) map[string][]string {
	t.Helper()
	bySlot := map[string][]string{}
	for _, l := range lines(out) {
		m := logLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("log line %q lacks Docker's prefix; all:\n%s", l, out)
		}
		tk, ok := tasks[m[1]]
		if !ok || !strings.HasPrefix(tk.id, m[2]) || tk.host != m[3] {
			t.Fatalf("log line %q: want the prefix of task %+v", l, tk)
		}
		bySlot[m[1]] = append(bySlot[m[1]], m[4])
	}
	return bySlot
}

// lastTick is the highest tick a slot's lines show (-1: none).
func lastTick(slot string, ls []string) int {
	last := -1
	for _, l := range ls {
		if n, err := strconv.Atoi(strings.TrimPrefix(l, "tick-"+slot+"-")); err == nil && strings.HasPrefix(l, "tick-"+slot+"-") {
			last = max(last, n)
		}
	}
	return last
}

// TestTestbedLogsAcrossHosts: on a swarm of a manager and two workers,
// each host its own engine, `service logs` on the manager shows the lines
// of all three tasks, one per host, with Docker's prefix naming the host
// that runs each (the remote ones streamed from their workers); --tail
// and -f work across hosts; a worker's peer port serves logs to a
// manager's certificate only (not another worker's, not none); and when a
// worker's daemon is gone its task's logs are a warning naming the task
// and the host (unreachable, then down), the others still print, and the
// exit code is 1.
func TestTestbedLogsAcrossHosts(t *testing.T) {
	b := testbed(t, 3)
	hosts := b.hosts(3)
	nodes := b.swarm(t, 1, 2)
	lead := nodes[0]
	lead.ok("service", "create", "--name", "chat", "--replicas", "3", shellImage, "sh", "-c",
		`echo hello-$SW_TASK_SLOT; i=0; while sleep 1; do i=$((i+1)); echo tick-$SW_TASK_SLOT-$i; done`)
	var tasks map[string]bedTask
	eventually(t, 60*time.Second, "chat's 3 tasks running, one per host", func() (bool, string) {
		tasks = runningBedTasks(lead, "chat")
		ctrs := bedContainers(t, "chat", hosts, nodes)
		perHost := map[string]bool{}
		for _, tk := range tasks {
			perHost[tk.host] = true
		}
		return len(tasks) == 3 && len(perHost) == 3 && sum(ctrs) == 3 && len(ctrs) == 3, fmt.Sprintf("tasks %v; containers %s", tasks, describe(ctrs))
	})

	// Every task's first line, each with its own host in its prefix.
	var out string
	eventually(t, 20*time.Second, "service logs shows the hello line of each task", func() (bool, string) {
		r := lead.sw("service", "logs", "chat")
		out = r.stdout
		if r.code != 0 {
			return false, fmt.Sprintf("exit %d: %s", r.code, r.stderr)
		}
		for slot := range tasks {
			if !strings.Contains(out, "| hello-"+slot+"\n") {
				return false, out
			}
		}
		return true, ""
	})
	bySlot := checkLogLines(t, out, tasks)
	for slot, tk := range tasks {
		if len(bySlot[slot]) == 0 || bySlot[slot][0] != "hello-"+slot {
			t.Fatalf("task %+v: lines %q, want hello-%s first", tk, bySlot[slot], slot)
		}
	}
	t.Logf("service logs on host1:\n%s", out)

	// --tail 1: one line per task, the newest.
	eventually(t, 10*time.Second, "--tail 1 gives one tick line per task", func() (bool, string) {
		out = lead.ok("service", "logs", "--tail", "1", "chat")
		got := checkLogLines(t, out, tasks)
		for slot := range tasks {
			if len(got[slot]) != 1 || !strings.HasPrefix(got[slot][0], "tick-"+slot+"-") {
				return false, out
			}
		}
		return len(lines(out)) == 3, out
	})
	// One task's logs by its ID, from a worker.
	for _, tk := range tasks {
		if tk.host == "host1" {
			continue
		}
		got := checkLogLines(t, lead.ok("service", "logs", tk.id), tasks)
		if len(got) != 1 || len(got[tk.slot]) == 0 || got[tk.slot][0] != "hello-"+tk.slot {
			t.Fatalf("logs of task %+v alone: %q", tk, got)
		}
		break
	}

	// -f: lines written after it started arrive from every host.
	seen := checkLogLines(t, lead.ok("service", "logs", "chat"), tasks)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	follow := exec.CommandContext(ctx, swBin, "-H", "unix://"+lead.sock, "service", "logs", "-f", "--tail", "0", "chat")
	buf := &syncBuffer{}
	follow.Stdout, follow.Stderr = buf, buf
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "service logs -f streams new ticks of every task", func() (bool, string) {
		got := map[string][]string{}
		for _, l := range lines(buf.String()) {
			if m := logLine.FindStringSubmatch(l); m != nil {
				got[m[1]] = append(got[m[1]], m[4])
			}
		}
		for slot := range tasks {
			if lastTick(slot, got[slot]) <= lastTick(slot, seen[slot]) {
				return false, buf.String()
			}
		}
		return true, ""
	})
	_ = follow.Process.Kill()
	_ = follow.Wait()
	checkLogLines(t, buf.String(), tasks)

	// The peer logs route of a worker: a manager's certificate reads it,
	// another worker's or none is refused; on the manager, a worker's
	// certificate is refused too.
	var w3 bedTask
	for _, tk := range tasks {
		if tk.host == "host3" {
			w3 = tk
		}
	}
	mgrCred, w2Cred := nodeCred(t, lead, "manager host1"), nodeCred(t, nodes[1], "worker host2")
	peerLogs := func(c cred, addr string) (string, error) {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		cl := peer.NewClient(&peer.Dialer{TLS: c.tls})
		defer cl.CloseIdle()
		rc, err := cl.Stream(cctx, addr, peer.PathLogs, url.Values{"task": {w3.id}})
		if err != nil {
			return "", err
		}
		defer rc.Close()
		bs, err := io.ReadAll(rc)
		return string(bs), err
	}
	if body, err := peerLogs(mgrCred, nodes[2].ip+":2377"); err != nil || !strings.Contains(body, "| hello-"+w3.slot+"\n") {
		t.Fatalf("host3's peer logs with the manager's certificate: %q, %v", body, err)
	}
	for _, c := range []cred{w2Cred, {name: "no certificate"}} {
		if body, err := peerLogs(c, nodes[2].ip+":2377"); err == nil {
			t.Fatalf("host3's peer logs with %s: served %q", c.name, body)
		} else {
			t.Logf("host3's peer logs with %s: refused: %v", c.name, err)
		}
	}
	if _, err := peerLogs(w2Cred, lead.ip+":2377"); err == nil || !peer.IsCode(err, "forbidden") {
		t.Fatalf("host1's peer logs with a worker's certificate: %v, want forbidden", err)
	}

	// host3's daemon gone: its task's logs are a warning, the others'
	// lines still come, and the exit code says something was missing.
	nodes[2].kill()
	r := lead.sw("service", "logs", "chat")
	if r.code == 0 {
		t.Fatalf("service logs with host3's daemon gone: exit 0\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	wantWarn := "chat." + w3.slot + "." + w3.id[:12]
	if !strings.Contains(r.stderr, "error from daemon in stream") || !strings.Contains(r.stderr, wantWarn) || !strings.Contains(r.stderr, "host3") {
		t.Fatalf("service logs with host3's daemon gone: stderr %q, want a warning naming %s on host3", r.stderr, wantWarn)
	}
	got := map[string]bool{}
	for _, l := range lines(r.stdout) {
		if m := logLine.FindStringSubmatch(l); m != nil && m[4] == "hello-"+m[1] {
			got[m[3]] = true
		}
	}
	if !got["host1"] || !got["host2"] || got["host3"] {
		t.Fatalf("service logs with host3's daemon gone: hello lines from %v, want host1 and host2\n%s", got, r.stdout)
	}
	t.Logf("service logs with host3's daemon gone: exit %d, stderr: %s", r.code, strings.TrimSpace(r.stderr))

	// Once the swarm has host3 as down, the warning says so at once,
	// without dialing it.
	eventually(t, 60*time.Second, "service logs warns that host3 is down", func() (bool, string) {
		r = lead.sw("service", "logs", "chat")
		return r.code != 0 && strings.Contains(r.stderr, "task "+wantWarn+" on node host3: node is down"), r.stderr
	})
	t.Logf("service logs with host3 down: exit %d, stderr: %s", r.code, strings.TrimSpace(r.stderr))
}
