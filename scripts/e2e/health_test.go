package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// taskState is one task as `service ps` shows it.
type taskState struct {
	id, name, desired, current, err string
}

// taskStates lists a service's tasks, newest first within a slot.
func (n *node) taskStates(svc string) []taskState {
	n.t.Helper()
	out := n.ok("service", "ps", "--no-trunc", "--format", "{{.ID}}|{{.Name}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}", svc)
	var ts []taskState
	for _, l := range lines(out) {
		f := strings.SplitN(l, "|", 5)
		if len(f) != 5 {
			n.t.Fatalf("service ps line %q", l)
		}
		ts = append(ts, taskState{id: f[0], name: strings.TrimSpace(strings.TrimPrefix(f[1], `\_`)),
			desired: f[2], current: strings.Fields(f[3])[0], err: f[4]})
	}
	return ts
}

// checkHealthcheck compares a service's health check, as inspect shows
// it in Docker's layout, with want (JSON).
func (n *node) checkHealthcheck(svc, want string) {
	n.t.Helper()
	got := n.ok("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}", svc)
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		n.t.Fatalf("inspect Healthcheck of %s: %q: %v", svc, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		n.t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		n.t.Fatalf("inspect Healthcheck of %s = %s, want %s", svc, got, want)
	}
}

// waitStartingThenRunning follows a one-task service's newest task: it
// must be seen Starting (its health check not passed yet) before Running.
// It returns the task's ID.
func (n *node) waitStartingThenRunning(svc string, not map[string]bool, timeout time.Duration) string {
	n.t.Helper()
	var id string
	sawStarting := false
	var last []taskState
	waitFor(n.t, timeout, svc+" task Starting, then Running", func() bool {
		last = n.taskStates(svc)
		for _, ts := range last {
			if not[ts.id] || ts.desired != "Running" {
				continue
			}
			switch ts.current {
			case "Starting":
				sawStarting, id = true, ts.id
			case "Running":
				if !sawStarting {
					n.t.Fatalf("%s task %s Running without being seen Starting first: %+v", svc, ts.id, last)
				}
				return ts.id == id
			}
		}
		return false
	})
	return id
}

// TestHealthCheckShell: with --health-cmd (run with the image's shell) a
// task stays STARTING until its check passes (its failures in the start
// period do not count), then RUNNING; once the check fails, the task FAILS "task: container unhealthy", its container is
// stopped, and a new task replaces it, again through STARTING.
func TestHealthCheckShell(t *testing.T) {
	t.Parallel()
	n := newNode(t, "health")
	n.initSwarm()
	n.ok("service", "create", "-d", "--name", "hc", "--restart-delay", "1s",
		"--health-cmd", "test -f /tmp/ok", "--health-interval", "500ms", "--health-retries", "1",
		"--health-start-period", "10s", shellImage, "sh", "-c", `trap "exit 0" TERM; sleep 2; : > /tmp/ok; while :; do sleep 1; done`)
	first := n.waitStartingThenRunning("hc", nil, 30*time.Second)

	n.checkHealthcheck("hc", `{"Test":["CMD-SHELL","test -f /tmp/ok"],"Interval":500000000,"StartPeriod":10000000000,"Retries":1}`)
	if p := n.ok("service", "inspect", "--pretty", "hc"); !strings.Contains(p, "Healthcheck:") || !strings.Contains(p, "Test = test -f /tmp/ok") {
		t.Fatalf("inspect --pretty:\n%s", p)
	}
	cs := n.containers(false)
	if len(cs) != 1 {
		t.Fatalf("want 1 running container, got %v", cs)
	}
	var cid string
	for name, id := range cs {
		if !strings.HasSuffix(name, "."+first) {
			t.Fatalf("container %s is not task %s's", name, first)
		}
		cid = id
	}
	if got := dockerOut(t, "inspect", "--format", "{{json .Config.Healthcheck.Test}} {{.State.Health.Status}}", cid); got != `["CMD-SHELL","test -f /tmp/ok"] healthy` {
		t.Fatalf("container health = %s", got)
	}

	// The check fails from now on: no shell applet rm, so busybox's.
	dockerOut(t, "exec", cid, "busybox", "rm", "/tmp/ok")
	waitFor(t, 20*time.Second, "the unhealthy task FAILED", func() bool {
		for _, ts := range n.taskStates("hc") {
			if ts.id == first {
				return ts.current == "Failed"
			}
		}
		return false
	})
	for _, ts := range n.taskStates("hc") {
		if ts.id == first && ts.err != `"task: container unhealthy"` {
			t.Fatalf("failed task error %s, want \"task: container unhealthy\"", ts.err)
		}
	}
	waitFor(t, 20*time.Second, "the unhealthy container stopped", func() bool {
		return dockerOut(t, "inspect", "--format", "{{.State.Running}}", cid) == "false"
	})
	second := n.waitStartingThenRunning("hc", map[string]bool{first: true}, 30*time.Second)
	ps := n.ok("service", "ps", "hc")
	if !regexp.MustCompile(`\\_ hc\.1\s+sw-shell:latest\s+health\s+Shutdown\s+Failed .*"task: container unhealthy"`).MatchString(ps) {
		t.Fatalf("service ps lacks the failed task's row:\n%s", ps)
	}
	if second == first {
		t.Fatal("not replaced")
	}
}

// TestHealthCheckMesh: of a published service's two tasks, the one whose
// check fails stops getting connections; its healthy replacement gets
// them again. The health check runs without a shell (sw-demo is FROM
// scratch): --health-cmd takes a JSON array for the exec form.
func TestHealthCheckMesh(t *testing.T) {
	t.Parallel()
	n := newNode(t, "hmesh")
	n.initSwarm()
	port := freePort(t, n.ip)
	n.ok("service", "create", "--name", "web", "--replicas", "2", "-p", fmt.Sprintf("%d:8080", port),
		"--restart-delay", "3s", "--health-cmd", `["/demoapp","health"]`, "--health-interval", "500ms",
		"--health-retries", "1", demoImage)
	url := fmt.Sprintf("http://%s:%d/", n.ip, port)
	answers := func(k int) map[string]int {
		seen := map[string]int{}
		for i := 0; i < k; i++ {
			body, err := httpGet(url)
			if err != nil {
				seen["error: "+err.Error()]++
				continue
			}
			seen[strings.TrimPrefix(body, "hello from ")]++
		}
		return seen
	}
	if seen := answers(4); len(seen) != 2 {
		t.Fatalf("want answers from both tasks, got %v", seen)
	}
	var sick, sickID, well string
	for name, id := range n.containers(false) {
		if strings.HasPrefix(name, "web.1.") {
			sick, sickID = name, id
		} else {
			well = name
		}
	}
	if sick == "" || well == "" {
		t.Fatalf("containers: %v", n.containers(false))
	}
	// Its /healthz answers 503 from now on (demoapp's health mode is just
	// an HTTP GET).
	dockerOut(t, "exec", sickID, "/demoapp", "health", "http://127.0.0.1:8080/sick")
	sickTask := sick[strings.LastIndex(sick, ".")+1:]
	waitFor(t, 15*time.Second, "the sick task FAILED", func() bool {
		for _, ts := range n.taskStates("web") {
			if ts.id == sickTask {
				return ts.current == "Failed" && ts.err == `"task: container unhealthy"`
			}
		}
		return false
	})
	// The mesh follows the committed state within moments (the kernel
	// rules are rewritten as the FAILED status lands); then, until the
	// replacement is healthy (3s restart delay, then the first check),
	// only the healthy task answers.
	var last map[string]int
	deadline := time.Now().Add(2 * time.Second)
	for last = answers(6); len(last) != 1 || last[well] != 6; last = answers(6) {
		if time.Now().After(deadline) {
			t.Fatalf("after %s turned unhealthy: answers %v, want all 6 from %s", sick, last, well)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, 30*time.Second, "a healthy replacement in slot 1 answering", func() bool {
		seen := answers(4)
		if seen[sick] > 0 {
			t.Fatalf("the unhealthy task answered: %v", seen)
		}
		return len(seen) == 2 && seen[well] == 2
	})
}

// TestHealthCheckImage: an image's HEALTHCHECK holds tasks STARTING too;
// --no-healthcheck turns it off; changing the health check in an update
// rolls the tasks; bad health flags are refused before anything is made.
func TestHealthCheckImage(t *testing.T) {
	t.Parallel()
	img := fmt.Sprintf("sw-demo:e2e-health-%d", os.Getpid())
	build := exec.Command("docker", "build", "-q", "-t", img, "-")
	build.Stdin = strings.NewReader("FROM " + demoImage + "\nHEALTHCHECK --interval=1s --retries=1 CMD [\"/demoapp\", \"health\"]\n")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", img, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", img).Run() }) // after the node's containers are gone
	n := newNode(t, "himage")
	n.initSwarm()

	for _, bad := range [][]string{
		{"--health-interval", "soon"}, {"--health-timeout", "-1s"}, {"--health-retries", "-2"},
		{"--no-healthcheck", "--health-cmd", "true"},
	} {
		args := append(append([]string{"service", "create", "--name", "bad"}, bad...), img)
		r := n.sw(args...)
		if r.code != 1 || !strings.Contains(r.stderr, "Error: ") || r.stdout != "" {
			t.Fatalf("create with %v: %+v, want exit 1 with an error on stderr", bad, r)
		}
	}
	if ls := n.ok("service", "ls", "-q"); strings.TrimSpace(ls) != "" {
		t.Fatalf("bad flags created a service: %q", ls)
	}

	n.ok("service", "create", "-d", "--name", "img", img)
	first := n.waitStartingThenRunning("img", nil, 20*time.Second)
	n.ok("service", "create", "--name", "off", "--no-healthcheck", img)
	var offID string
	for name, id := range n.containers(false) {
		if strings.HasPrefix(name, "off.1.") {
			offID = id
		}
	}
	if got := dockerOut(t, "inspect", "--format", "{{json .Config.Healthcheck.Test}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", offID); got != `["NONE"]` {
		t.Fatalf("--no-healthcheck container: %q", got)
	}

	r := n.sw("service", "update", "--health-retries", "-1", "img")
	if r.code != 1 || !strings.Contains(r.stderr, `invalid --health-retries "-1"`) {
		t.Fatalf("update with bad retries: %+v", r)
	}
	n.ok("service", "update", "-d", "--health-interval", "1s", "img")
	n.waitStartingThenRunning("img", map[string]bool{first: true}, 20*time.Second)
	n.checkHealthcheck("img", `{"Interval":1000000000}`)
}
