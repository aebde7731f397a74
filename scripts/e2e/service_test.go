package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var containerName = regexp.MustCompile(`^web\.([1-9][0-9]*)\.([0-9a-z]{25})$`)

// TestServiceLifecycle: create with a published port, answers from every
// task in turn, scale up and down, remove — checked on the real engine.
func TestServiceLifecycle(t *testing.T) {
	t.Parallel()
	n := newNode(t, "life")
	n.initSwarm()
	port := freePort(t, n.ip)
	out := n.ok("service", "create", "--name", "web", "--replicas", "3", "-p", fmt.Sprintf("%d:8080", port), demoImage)
	if !strings.Contains(out, "overall progress: 3 out of 3 tasks") || !strings.Contains(out, "verify: Service converged") {
		t.Fatalf("create progress missing:\n%s", out)
	}
	cs := n.containers(false)
	if len(cs) != 3 {
		t.Fatalf("want 3 running containers, got %v", cs)
	}
	for name, id := range cs {
		m := containerName.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("container name %q is not <service>.<slot>.<taskID>", name)
		}
		labels := dockerOut(t, "inspect", "--format", `{{index .Config.Labels "com.sw.task.id"}} {{index .Config.Labels "com.sw.service.name"}}`, id)
		if labels != m[2]+" web" {
			t.Fatalf("container %s labels = %q", name, labels)
		}
	}

	seen := map[string]int{}
	url := fmt.Sprintf("http://%s:%d/", n.ip, port)
	for i := 0; i < 6; i++ {
		body, err := httpGet(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		seen[body]++
	}
	if len(seen) != 3 {
		t.Fatalf("want answers from 3 tasks in turn, got %v", seen)
	}
	for body, k := range seen {
		if k != 2 || !strings.HasPrefix(body, "hello from web.") {
			t.Fatalf("round robin uneven or wrong body: %v", seen)
		}
	}

	ls := n.ok("service", "ls")
	if !regexp.MustCompile(`web\s+replicated\s+3/3\s+sw-demo:latest\s+\*:` + fmt.Sprint(port) + `->8080/tcp`).MatchString(ls) {
		t.Fatalf("service ls:\n%s", ls)
	}

	n.ok("service", "scale", "web=5")
	if got := len(n.containers(false)); got != 5 {
		t.Fatalf("after scale to 5: %d containers", got)
	}
	n.ok("service", "scale", "web=1")
	waitFor(t, 20*time.Second, "scale down to 1 container", func() bool { return len(n.containers(true)) == 1 })
	if ps := lines(n.ok("service", "ps", "-q", "web")); len(ps) != 1 {
		t.Fatalf("service ps after scale down lists %d tasks: %v", len(ps), ps)
	}

	n.ok("service", "rm", "web")
	waitFor(t, 20*time.Second, "containers removed", func() bool { return len(n.containers(true)) == 0 })
	waitFor(t, 5*time.Second, "published port closed", func() bool {
		_, err := httpGet(url)
		return err != nil
	})
	if r := n.sw("service", "ps", "web"); r.code == 0 || !strings.Contains(r.stderr, "no such service") {
		t.Fatalf("ps of a removed service: %+v", r)
	}
}

// TestFailedTaskReplacedInSlot: a killed task's container is replaced in
// the same slot after the restart delay, and history shows the failure.
func TestFailedTaskReplacedInSlot(t *testing.T) {
	t.Parallel()
	n := newNode(t, "restart")
	n.initSwarm()
	n.ok("service", "create", "--name", "web", "--replicas", "2", "--restart-delay", "1s", demoImage)
	var victim, victimID string
	for name, id := range n.containers(false) {
		if strings.HasPrefix(name, "web.2.") {
			victim, victimID = name, id
		}
	}
	if victim == "" {
		t.Fatal("no container for slot 2")
	}
	dockerOut(t, "kill", victimID)
	waitFor(t, 15*time.Second, "slot 2 replaced", func() bool {
		for name := range n.containers(false) {
			if strings.HasPrefix(name, "web.2.") && name != victim {
				return true
			}
		}
		return false
	})
	ps := n.ok("service", "ps", "web")
	if !regexp.MustCompile(`\\_ web\.2\s+sw-demo:latest\s+restart\s+Shutdown\s+Failed .*"task: non-zero exit \(137\)"`).MatchString(ps) {
		t.Fatalf("history row for the failed task missing:\n%s", ps)
	}
	if got := len(lines(n.ok("service", "ps", "-q", "-f", "desired-state=running", "web"))); got != 2 {
		t.Fatalf("want 2 tasks desired running, got %d", got)
	}
}

// TestDaemonRestartAdopts: a killed daemon comes back to find its
// containers; it keeps the running ones (same IDs, no duplicates), replaces
// a container removed meanwhile, and removes a container of a task it
// never had.
func TestDaemonRestartAdopts(t *testing.T) {
	t.Parallel()
	n := newNode(t, "adopt")
	n.initSwarm()
	n.ok("service", "create", "--name", "web", "--replicas", "3", "--restart-delay", "1s", demoImage)
	before := n.containers(false)
	n.kill()
	var gone string
	for name, id := range before {
		if strings.HasPrefix(name, "web.1.") {
			gone = name
			dockerOut(t, "rm", "-f", id)
		}
	}
	stray := "web.9.zzzzzzzzzzzzzzzzzzzzzzzzz"
	dockerOut(t, "create", "--name", stray, "--label", "com.sw.node.id="+n.id, "--label", "com.sw.task.id=zzzzzzzzzzzzzzzzzzzzzzzzz", demoImage)
	n.start()
	waitFor(t, 20*time.Second, "stray removed and slot 1 replaced", func() bool {
		cs := n.containers(true)
		if _, ok := cs[stray]; ok {
			return false
		}
		running := n.containers(false)
		return len(running) == 3 && running[gone] == ""
	})
	after := n.containers(false)
	for name, id := range before {
		if name == gone {
			continue
		}
		if after[name] != id {
			t.Fatalf("container %s was not adopted: before %s, after %q (all: %v)", name, id, after[name], after)
		}
	}
	if got := strings.TrimSpace(n.ok("service", "ls", "--format", "{{.Replicas}}")); got != "3/3" {
		t.Fatalf("replicas after restart = %q", got)
	}
}

// TestUpdateRollsTasks: an env change replaces every task, one at a time,
// and the new containers carry the variable.
func TestUpdateRollsTasks(t *testing.T) {
	t.Parallel()
	n := newNode(t, "update")
	n.initSwarm()
	n.ok("service", "create", "--name", "web", "--replicas", "2", "-e", "A=1", demoImage)
	old := n.containers(false)
	n.ok("service", "update", "--env-add", "B=2", "--env-rm", "A", "web")
	now := n.containers(false)
	if len(now) != 2 {
		t.Fatalf("after update: %v", now)
	}
	for name, id := range now {
		if old[name] != "" {
			t.Fatalf("container %s was not replaced", name)
		}
		env := dockerOut(t, "inspect", "--format", "{{json .Config.Env}}", id)
		var vars []string
		if err := json.Unmarshal([]byte(env), &vars); err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(vars, " ")
		if !strings.Contains(joined, "B=2") || strings.Contains(joined, "A=1") {
			t.Fatalf("container %s env = %v", name, vars)
		}
	}
	insp := n.ok("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Env}}", "web")
	if strings.TrimSpace(insp) != "[B=2]" {
		t.Fatalf("inspect env = %q", insp)
	}

	dockerOut(t, "tag", demoImage, "sw-demo:e2e-v2")
	n.ok("service", "update", "--image", "sw-demo:e2e-v2", "web")
	for name, id := range n.containers(false) {
		if img := dockerOut(t, "inspect", "--format", "{{.Config.Image}}", id); img != "sw-demo:e2e-v2" {
			t.Fatalf("container %s runs %s after --image update", name, img)
		}
	}
	if got := strings.TrimSpace(n.ok("service", "ls", "--format", "{{.Image}} {{.Replicas}}")); got != "sw-demo:e2e-v2 2/2" {
		t.Fatalf("service ls after image update: %q", got)
	}
}

// TestRejectedImage: an image that cannot be had is REJECTED with the
// reason, and waiting for convergence fails instead of hanging.
func TestRejectedImage(t *testing.T) {
	t.Parallel()
	n := newNode(t, "reject")
	n.initSwarm()
	r := n.sw("service", "create", "--name", "bad", "--restart-delay", "100ms", "127.0.0.1:5999/none:1")
	if r.code == 0 || !strings.Contains(r.stderr, "did not converge") || !strings.Contains(r.stderr, "No such image: 127.0.0.1:5999/none:1") {
		t.Fatalf("create of an unpullable image: %+v", r)
	}
	ps := n.ok("service", "ps", "bad")
	if !strings.Contains(ps, "Rejected") || !strings.Contains(ps, "No such image") {
		t.Fatalf("service ps:\n%s", ps)
	}
}

// TestRestartPolicies: restart-condition none leaves a failed task down;
// on-failure leaves a completed one-shot task complete.
func TestRestartPolicies(t *testing.T) {
	t.Parallel()
	n := newNode(t, "policy")
	n.initSwarm()
	r := n.sw("service", "create", "--name", "fails", "--restart-condition", "none", demoImage, "exit", "3")
	if r.code == 0 || !strings.Contains(r.stderr, "non-zero exit (3)") {
		t.Fatalf("create of a failing service with restart none: %+v", r)
	}
	n.ok("service", "create", "--name", "once", "--restart-condition", "on-failure", "--restart-delay", "100ms", demoImage, "exit", "0")
	time.Sleep(1500 * time.Millisecond) // a restart, were there to be one, would have come
	for _, svc := range []string{"fails", "once"} {
		if got := len(lines(n.ok("service", "ps", "-q", svc))); got != 1 {
			t.Fatalf("%s: want exactly 1 task (no restarts), got %d:\n%s", svc, got, n.ok("service", "ps", svc))
		}
	}
	if st := n.ok("service", "ps", "--format", "{{.CurrentState}}", "once"); !strings.HasPrefix(st, "Complete") {
		t.Fatalf("once: state %q", st)
	}
}

// TestLogs: service logs shows each task's output with Docker's prefix.
func TestLogs(t *testing.T) {
	t.Parallel()
	n := newNode(t, "logs")
	n.initSwarm()
	n.ok("service", "create", "--name", "talk", "--replicas", "2", demoImage, "echo", "hello-logs")
	var out string
	waitFor(t, 10*time.Second, "two log lines", func() bool {
		out = n.ok("service", "logs", "talk")
		return len(lines(out)) == 2
	})
	re := regexp.MustCompile(`^talk\.[12]\.[0-9a-z]{12}@logs\s+\| hello-logs$`)
	for _, l := range lines(out) {
		if !re.MatchString(l) {
			t.Fatalf("log line %q", l)
		}
	}
	id := strings.Fields(n.ok("service", "ps", "-q", "talk"))[0]
	if got := lines(n.ok("service", "logs", id)); len(got) != 1 {
		t.Fatalf("logs of one task: %v", got)
	}
}
