package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestJobs: a replicated job runs its completions at most MaxConcurrent at
// a time and the waiting CLI returns once all completed; service ls shows
// Docker's "(N/M completed)"; completed tasks are not restarted; a job
// that cannot complete fails the CLI; a global job runs once per node;
// update flags are refused for a job.
func TestJobs(t *testing.T) {
	t.Parallel()
	n := newNode(t, "jobs")
	n.initSwarm()
	out := n.ok("service", "create", "--name", "batch", "--mode", "replicated-job", "--replicas", "4", "--max-concurrent", "2",
		demoImage, "exit", "0", "1s")
	if !strings.Contains(out, "job progress: 4 out of 4 complete") || !strings.Contains(out, "verify: Service converged") {
		t.Errorf("create output:\n%s", out)
	}
	if got := strings.TrimSpace(n.ok("service", "ls", "--filter", "name=batch", "--format", "{{.Mode}} {{.Replicas}}")); got != "replicated-job 0/0 (4/4 completed)" {
		t.Errorf("service ls: %q", got)
	}
	complete := 0
	for _, ts := range n.taskStates("batch") {
		if ts.current == "Complete" {
			complete++
		} else {
			t.Errorf("task %s %s, want Complete", ts.name, ts.current)
		}
	}
	if complete != 4 {
		t.Errorf("%d tasks Complete, want 4", complete)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec.Mode}}", "batch")); got != `{"ReplicatedJob":{"MaxConcurrent":2,"TotalCompletions":4}}` {
		t.Errorf("inspect Mode: %s", got)
	}

	res := n.sw("service", "create", "--name", "doomed", "--mode", "replicated-job", "--restart-max-attempts", "1",
		"--restart-delay", "100ms", demoImage, "exit", "3")
	if res.code == 0 || !strings.Contains(res.stderr, "did not converge") {
		t.Errorf("a job that cannot complete: exit %d, stderr %q", res.code, res.stderr)
	}

	n.ok("service", "create", "-q", "--name", "once", "--mode", "global-job", demoImage, "exit", "0")
	if got := strings.TrimSpace(n.ok("service", "ls", "--filter", "name=once", "--format", "{{.Replicas}}")); got != "0/0 (1/1 completed)" {
		t.Errorf("global job in service ls: %q", got)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"service", "create", "--mode", "replicated-job", "--update-parallelism", "2", demoImage}, "--update-parallelism cannot be used with a job"},
		{[]string{"service", "create", "--max-concurrent", "2", demoImage}, "--max-concurrent can only be used with replicated-job mode"},
		{[]string{"service", "create", "--mode", "cron", demoImage}, `invalid --mode "cron"`},
	} {
		if res := n.sw(c.args...); res.code == 0 || !strings.Contains(res.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, res.code, res.stderr, c.want)
		}
	}
}

// TestTaskHistoryAndRestartWindow: swarm update --task-history-limit
// changes how many tasks a slot keeps, at once and as info shows it;
// --restart-window makes --restart-max-attempts count within the window;
// bad values are refused.
func TestTaskHistoryAndRestartWindow(t *testing.T) {
	t.Parallel()
	n := newNode(t, "history")
	n.initSwarm()
	if res := n.sw("swarm", "update", "--task-history-limit", "0"); res.code == 0 || !strings.Contains(res.stderr, "invalid task history limit 0: want 1 to 100") {
		t.Errorf("--task-history-limit 0: exit %d, stderr %q", res.code, res.stderr)
	}
	n.ok("swarm", "update", "--task-history-limit", "2")
	if got := strings.TrimSpace(n.ok("info", "--format", "{{.TaskHistoryLimit}}")); got != "2" {
		t.Errorf("info: task history limit %q, want 2", got)
	}
	if info := n.ok("info"); !strings.Contains(info, "Task History Retention Limit: 2") {
		t.Errorf("info:\n%s", info)
	}
	// A task that keeps failing, restarted at once: its slot keeps 2.
	n.ok("service", "create", "-q", "-d", "--name", "crash", "--restart-delay", "0s", demoImage, "exit", "1", "200ms")
	waitFor(t, 30*time.Second, "a restart", func() bool { return len(n.taskStates("crash")) == 2 })
	time.Sleep(2 * time.Second) // more restarts: the count stays
	if k := len(n.taskStates("crash")); k > 2 {
		t.Errorf("slot 1 keeps %d tasks, want at most 2", k)
	}

	// At most 1 restart within 1 minute: after the first failure and its
	// restart, the slot stays down.
	n.ok("service", "create", "-q", "-d", "--name", "window", "--restart-delay", "0s", "--restart-max-attempts", "1",
		"--restart-window", "1m", demoImage, "exit", "1", "200ms")
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.Spec.TaskTemplate.RestartPolicy.Window}}", "window")); got != "60000000000" {
		t.Errorf("inspect Window %q", got)
	}
	waitFor(t, 30*time.Second, "two failed tasks and no more", func() bool {
		failed, live := 0, 0
		for _, ts := range n.taskStates("window") {
			if ts.current == "Failed" {
				failed++
			}
			if ts.desired == "Running" {
				live++
			}
		}
		return failed == 2 && live == 0
	})
	if res := n.sw("service", "update", "--restart-window", "soon", "window"); res.code == 0 || !strings.Contains(res.stderr, `invalid --restart-window "soon"`) {
		t.Errorf("--restart-window soon: exit %d, stderr %q", res.code, res.stderr)
	}
}
