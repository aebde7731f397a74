package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sampler asks a published port, over and over until stopped, for rounds
// of k requests, and keeps the fewest distinct tasks that answered one
// round (the mesh goes round the backends: k at least twice their number
// reaches each) and every failed request.
type sampler struct {
	url    string
	k      int
	stop   chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	rounds int
	fewest int
	failed []string
}

func sample(url string, k int) *sampler {
	s := &sampler{url: url, k: k, stop: make(chan struct{}), fewest: 1 << 30}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			seen := map[string]bool{}
			var failed []string
			for i := 0; i < s.k; i++ {
				body, err := httpGet(s.url)
				if err != nil {
					failed = append(failed, err.Error())
					continue
				}
				seen[strings.TrimSpace(strings.TrimPrefix(body, "hello from "))] = true
			}
			s.mu.Lock()
			s.rounds++
			s.fewest = min(s.fewest, len(seen))
			s.failed = append(s.failed, failed...)
			s.mu.Unlock()
		}
	}()
	return s
}

// finish stops the sampler and returns its rounds, the fewest tasks seen
// in one and the failed requests.
func (s *sampler) finish() (rounds, fewest int, failed []string) {
	close(s.stop)
	s.done.Wait()
	return s.rounds, s.fewest, s.failed
}

// runningImages counts a service's tasks meant to run and running, by image.
func (n *node) runningImages(svc string) map[string]int {
	n.t.Helper()
	out := map[string]int{}
	for _, l := range lines(n.ok("service", "ps", "--filter", "desired-state=running", "--format", "{{.Image}} {{.CurrentState}}", svc)) {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == "Running" {
			out[f[0]]++
		}
	}
	return out
}

// TestRollingUpdatePausesOnUnhealthyImage: an update to an image whose
// health check fails stops at its first task (parallelism 1, failure
// action pause): the CLI exits 1 saying why, inspect and ps say so, the
// other replicas keep the old image, and at no moment did fewer than
// replicas − parallelism tasks answer on the published port. Updating
// again resumes the rollout; a rollback puts the old image back.
func TestRollingUpdatePausesOnUnhealthyImage(t *testing.T) {
	t.Parallel()
	n := newNode(t, "rollpause")
	n.initSwarm()
	port := freePort(t, n.ip)
	n.ok("service", "create", "-q", "--name", "web", "--replicas", "4", "-p", fmt.Sprintf("%d:8080", port),
		"--update-monitor", "2s", "--restart-delay", "1s", demoImage)
	s := sample(fmt.Sprintf("http://%s:%d/", n.ip, port), 8)
	res := n.sw("service", "update", "--image", unhealthyImage, "web")
	rounds, fewest, _ := s.finish()
	if res.code == 0 || !strings.Contains(res.stderr, "Error: service update paused: update paused due to failure or early termination of task ") {
		t.Fatalf("update: exit %d, stderr %q, want exit 1 and the pause", res.code, res.stderr)
	}
	if !strings.Contains(res.stdout, "overall progress: ") {
		t.Errorf("no progress shown:\n%s", res.stdout)
	}
	if rounds < 3 || fewest < 3 {
		t.Errorf("over %d rounds of 8 requests, as few as %d tasks answered one; want at least 3 (4 replicas − parallelism 1)", rounds, fewest)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.UpdateStatus.State}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{.PreviousSpec.TaskTemplate.ContainerSpec.Image}}", "web")); got != "paused "+unhealthyImage+" "+demoImage {
		t.Errorf("inspect: %q", got)
	}
	if pretty := n.ok("service", "inspect", "--pretty", "web"); !strings.Contains(pretty, "UpdateStatus:\n State:\t\tpaused\n") ||
		!strings.Contains(pretty, " Message:\tupdate paused due to failure or early termination of task ") {
		t.Errorf("inspect --pretty:\n%s", pretty)
	}
	if ps := n.sw("service", "ps", "web"); !strings.Contains(ps.stderr, "Warning: service web: update paused due to failure") {
		t.Errorf("service ps stderr %q, want the pause", ps.stderr)
	}
	// Paused: it stays so, with three old tasks serving.
	time.Sleep(3 * time.Second)
	if got := n.runningImages("web"); got[demoImage] != 3 || got[unhealthyImage] != 0 {
		t.Errorf("running while paused: %v, want 3 of %s", got, demoImage)
	}
	// Running update again resumes it, and it pauses again.
	res = n.sw("service", "update", "web")
	if res.code == 0 || !strings.Contains(res.stderr, "service update paused") {
		t.Errorf("resumed update: exit %d, stderr %q", res.code, res.stderr)
	}
	// The rollback puts the old image back on every slot.
	out := n.ok("service", "rollback", "web")
	for _, want := range []string{"rollback: manually requested rollback", "overall progress: rolling back update: ", "verify: Service converged"} {
		if !strings.Contains(out, want) {
			t.Errorf("service rollback output lacks %q:\n%s", want, out)
		}
	}
	if got := n.runningImages("web"); got[demoImage] != 4 {
		t.Errorf("running after the rollback: %v", got)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.UpdateStatus.State}}", "web")); got != "rollback_completed" {
		t.Errorf("status after the rollback %q", got)
	}
}

// TestRollingUpdateRollsBackAutomatically: with --update-failure-action
// rollback, the failed update goes back by itself; the waiting CLI says
// so and exits 1 (docker/cli #6752: Docker's stack deploy exits 0).
func TestRollingUpdateRollsBackAutomatically(t *testing.T) {
	t.Parallel()
	n := newNode(t, "rollback")
	n.initSwarm()
	n.ok("service", "create", "-q", "--name", "web", "--replicas", "3", "--update-failure-action", "rollback",
		"--update-parallelism", "2", "--update-monitor", "2s", "--rollback-parallelism", "0", demoImage)
	res := n.sw("service", "update", "--image", unhealthyImage, "web")
	if res.code == 0 || !strings.Contains(res.stderr, "Error: service web was rolled back") ||
		!strings.Contains(res.stdout, "rollback: update rolled back due to failure or early termination of task ") {
		t.Fatalf("update: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.UpdateStatus.State}} {{.Spec.TaskTemplate.ContainerSpec.Image}}", "web")); got != "rollback_completed "+demoImage {
		t.Errorf("inspect: %q", got)
	}
	if got := n.runningImages("web"); got[demoImage] != 3 {
		t.Errorf("running after the rollback: %v", got)
	}
	// --force replaces every task with an unchanged spec.
	before := n.containers(false)
	n.ok("service", "update", "-q", "--force", "web")
	after := n.containers(false)
	for name := range before {
		if _, still := after[name]; still {
			t.Errorf("container %s survived update --force", name)
		}
	}
	if len(after) != 3 {
		t.Errorf("%d containers after --force, want 3", len(after))
	}
}

// TestRollingUpdateStartFirstServes: a start-first update keeps every
// slot serving: no request through the published port fails and every
// round reaches all four replicas.
func TestRollingUpdateStartFirstServes(t *testing.T) {
	t.Parallel()
	n := newNode(t, "rollstart")
	n.initSwarm()
	port := freePort(t, n.ip)
	n.ok("service", "create", "-q", "--name", "web", "--replicas", "4", "-p", fmt.Sprintf("%d:8080", port),
		"--update-order", "start-first", "--update-parallelism", "2", "--update-monitor", "1s", demoImage)
	s := sample(fmt.Sprintf("http://%s:%d/", n.ip, port), 8)
	start := time.Now()
	n.ok("service", "update", "-q", "--env-add", "VERSION=2", "web")
	took := time.Since(start)
	rounds, fewest, failed := s.finish()
	if len(failed) > 0 {
		t.Errorf("%d requests failed during a start-first update (of %d rounds), e.g. %s", len(failed), rounds, failed[0])
	}
	if rounds < 3 || fewest < 4 {
		t.Errorf("over %d rounds, as few as %d tasks answered one; want all 4", rounds, fewest)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.UpdateStatus.State}} {{.Spec.UpdateConfig.Order}}", "web")); got != "completed start-first" {
		t.Errorf("inspect: %q", got)
	}
	t.Logf("start-first update of 4 replicas took %v", took)
}

// TestRolloutFlags: the new flags' bad values are refused before anything
// changes, and inspect shows the configuration in Docker's names.
func TestRolloutFlags(t *testing.T) {
	t.Parallel()
	n := newNode(t, "rollflags")
	n.initSwarm()
	n.ok("service", "create", "-q", "-d", "--name", "web", "--update-parallelism", "3", "--update-delay", "2s",
		"--update-order", "start-first", "--rollback-max-failure-ratio", "0.5", demoImage)
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec.UpdateConfig}} {{json .Spec.RollbackConfig}}", "web")); got !=
		`{"Delay":2000000000,"FailureAction":"pause","MaxFailureRatio":0,"Monitor":5000000000,"Order":"start-first","Parallelism":3} `+
			`{"FailureAction":"pause","MaxFailureRatio":0.5,"Monitor":5000000000,"Order":"stop-first","Parallelism":1}` {
		t.Errorf("inspect: %s", got)
	}
	version := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.Version}}", "web"))
	for _, c := range []struct{ args, want string }{
		{"--update-parallelism -1", `invalid --update-parallelism "-1": want a whole number, 0 or more`},
		{"--update-failure-action explode", `invalid --update-failure-action "explode": want pause, continue or rollback`},
		{"--rollback-failure-action rollback", `invalid --rollback-failure-action "rollback": want pause or continue`},
		{"--update-max-failure-ratio 1.5", `invalid --update-max-failure-ratio "1.5": want a number from 0 to 1`},
		{"--update-delay 5x", `invalid --update-delay "5x"`},
		{"--rollback-order random", `invalid --rollback-order "random": want stop-first or start-first`},
		{"--rollback --image x", "--rollback cannot be used with --image"},
	} {
		res := n.sw(append([]string{"service", "update"}, append(strings.Fields(c.args), "web")...)...)
		if res.code == 0 || !strings.Contains(res.stderr, c.want) {
			t.Errorf("update %s: exit %d, stderr %q, want %q", c.args, res.code, res.stderr, c.want)
		}
	}
	if res := n.sw("service", "create", "--update-parallelism", "x", "--name", "bad", demoImage); res.code == 0 ||
		!strings.Contains(res.stderr, `invalid --update-parallelism "x"`) {
		t.Errorf("create with a bad flag: exit %d, stderr %q", res.code, res.stderr)
	}
	if res := n.sw("service", "rollback", "web"); res.code == 0 || !strings.Contains(res.stderr, "service web has no previous spec to roll back to") {
		t.Errorf("rollback with no previous spec: exit %d, stderr %q", res.code, res.stderr)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.Version}}", "web")); got != version {
		t.Errorf("version %s after refused changes, was %s", got, version)
	}
	if out := n.ok("service", "ls", "-q"); len(lines(out)) != 1 {
		t.Errorf("services after a refused create: %q", out)
	}
}
