package agent_test

import (
	"testing"
	"time"

	"sw/cluster/executor"
	"sw/cluster/store"
	"sw/cluster/types"
)

// healthTask is a task whose spec has a health check.
func healthTask(id string, slot uint64) *types.Task {
	tk := newTask(id, slot)
	tk.Spec.Healthcheck = &types.HealthConfig{Test: []string{"CMD-SHELL", "test -f /tmp/ok"}, Interval: time.Second}
	return tk
}

// waitStarted waits for the task's container to be started and returns it.
func (h *harness) waitStarted(id string) string {
	h.t.Helper()
	var cid string
	waitFor(h.t, "task "+id+" started, waiting for health", func() string {
		c, ok := h.exec.containerOf(id)
		if !ok || !c.Running {
			return "container not running"
		}
		if h.exec.count("Start", c.ID) == 0 {
			return "not started"
		}
		cid = c.ID
		return ""
	})
	return cid
}

// stillStarting checks that the task stays STARTING for a while, through
// reconciles (another task's commit), without a second Start.
func (h *harness) stillStarting(id, cid string) {
	h.t.Helper()
	h.addTasks(newTask(id+"-other", 99))
	h.waitRunning(id + "-other")
	deadline := time.Now().Add(150 * time.Millisecond)
	for time.Now().Before(deadline) {
		if s := h.task(id).Status.State; s != types.TaskStarting {
			h.t.Fatalf("task %s %s before its container is healthy, want STARTING", id, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := h.exec.count("Start", cid); n != 1 {
		h.t.Errorf("Start called %d times while waiting for health, want 1", n)
	}
}

var startingStates = []types.TaskState{types.TaskAccepted, types.TaskPreparing, types.TaskStarting}

func TestHealthyTaskRunsOnlyOnceHealthy(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.addTasks(healthTask("t1", 1))
	cid := h.waitStarted("t1")
	h.stillStarting("t1", cid)

	if err := h.exec.setHealth(cid, executor.HealthHealthy); err != nil {
		t.Fatal(err)
	}
	tk := h.waitState("t1", types.TaskRunning)
	c, _ := h.exec.container(cid)
	if tk.Status.ContainerID != cid || tk.Status.Addr == "" || tk.Status.Addr != c.Addr || tk.Status.Message != "started" {
		t.Errorf("RUNNING status %+v, want container %s at %s", tk.Status, cid, c.Addr)
	}
	if got := h.prop.reported("t1"); !equalStates(got, startStates) {
		t.Errorf("reported %v, want %v", got, startStates)
	}
	// Healthy again, or a resync's view, changes nothing.
	if err := h.exec.setHealth(cid, executor.HealthHealthy); err != nil {
		t.Fatal(err)
	}
	if got := h.prop.reported("t1"); !equalStates(got, startStates) {
		t.Errorf("reported %v after a second healthy event, want %v", got, startStates)
	}
}

func TestImageHealthcheckWaits(t *testing.T) {
	h := newHarness(t)
	h.exec.imageHealthcheck["nginx:alpine"] = true
	h.start()
	h.addTasks(newTask("t1", 1))
	cid := h.waitStarted("t1")
	h.exec.mu.Lock()
	h.exec.imageHealthcheck["nginx:alpine"] = false // for the other task of stillStarting
	h.exec.mu.Unlock()
	h.stillStarting("t1", cid)
	if err := h.exec.setHealth(cid, executor.HealthHealthy); err != nil {
		t.Fatal(err)
	}
	h.waitRunning("t1")
}

func TestUnhealthyAtStartFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness)
		event bool // the engine's event says unhealthy, after Start
	}{
		{"event", func(h *harness) {}, true},
		{"seen by Start", func(h *harness) { h.exec.startHealth["t1"] = executor.HealthUnhealthy }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.setup(h)
			h.start()
			h.addTasks(healthTask("t1", 1))
			var cid string
			if tc.event {
				cid = h.waitStarted("t1")
				h.waitState("t1", types.TaskStarting)
				if err := h.exec.setHealth(cid, executor.HealthUnhealthy); err != nil {
					t.Fatal(err)
				}
			}
			tk := h.waitState("t1", types.TaskFailed)
			cid = tk.Status.ContainerID
			if tk.Status.Err != "task: container unhealthy" || tk.Status.ExitCode != nil {
				t.Errorf("status %+v, want Err %q", tk.Status, "task: container unhealthy")
			}
			h.waitStopped(cid)
			want := append(append([]types.TaskState{}, startingStates...), types.TaskFailed)
			if got := h.prop.reported("t1"); !equalStates(got, want) {
				t.Errorf("reported %v, want %v", got, want)
			}
		})
	}
}

// waitStopped waits for a container to be stopped within its grace period.
func (h *harness) waitStopped(cid string) {
	h.t.Helper()
	waitFor(h.t, "container "+cid+" stopped", func() string {
		if c, ok := h.exec.container(cid); !ok || c.Running {
			return "still running"
		}
		return ""
	})
	if n := h.exec.count("Stop", cid+"/3s"); n != 1 {
		h.t.Errorf("Stop(%s, 3s) called %d times, want 1 (calls %v)", cid, n, h.exec.calls)
	}
}

func TestHealthyThenUnhealthyFails(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.addTasks(healthTask("t1", 1))
	cid := h.waitStarted("t1")
	if err := h.exec.setHealth(cid, executor.HealthHealthy); err != nil {
		t.Fatal(err)
	}
	h.waitRunning("t1")
	if err := h.exec.setHealth(cid, executor.HealthUnhealthy); err != nil {
		t.Fatal(err)
	}
	tk := h.waitState("t1", types.TaskFailed)
	h.waitStopped(cid)
	// The stop's exit (137) does not replace the reason.
	tk = h.task("t1")
	if tk.Status.Err != "task: container unhealthy" || tk.Status.ContainerID != cid {
		t.Errorf("status %+v, want Err %q in container %s", tk.Status, "task: container unhealthy", cid)
	}
	want := append(append([]types.TaskState{}, startStates...), types.TaskFailed)
	if got := h.prop.reported("t1"); !equalStates(got, want) {
		t.Errorf("reported %v, want %v", got, want)
	}
	// The orchestrator's shutdown of the failed task stops nothing more.
	h.setDesired("t1", types.TaskShutdown)
	h.addTasks(newTask("t2", 2))
	h.waitRunning("t2")
	if n := h.exec.count("Stop", ""); n != 1 {
		t.Errorf("Stop called %d times, want 1", n)
	}
}

// A task adopted after a restart, RUNNING, is failed when it turns unhealthy.
func TestAdoptedTaskUnhealthyFails(t *testing.T) {
	h := newHarness(t)
	tk := runningTask("t1", 1, "old")
	tk.Spec.Healthcheck = &types.HealthConfig{Test: []string{"CMD", "true"}}
	h.addTasks(tk)
	h.exec.add(fakeContainer{ID: "old", TaskID: "t1", Running: true, Addr: "10.9.9.9", Health: executor.HealthHealthy})
	h.start()
	waitFor(t, "adoption", func() string {
		if h.exec.count("List", "") == 0 {
			return "no List"
		}
		return ""
	})
	if err := h.exec.setHealth("old", executor.HealthUnhealthy); err != nil {
		t.Fatal(err)
	}
	h.waitState("t1", types.TaskFailed)
	h.waitStopped("old")
}

// A health event taken while Start is still in flight is not lost.
func TestHealthEventDuringStart(t *testing.T) {
	h := newHarness(t)
	h.exec.startGate = make(chan struct{})
	h.exec.startHealth["t1"] = executor.HealthStarting // what Start saw
	h.start()
	h.addTasks(healthTask("t1", 1))
	waitFor(t, "Start", func() string {
		if h.exec.count("Start", "") == 0 {
			return "not called"
		}
		return ""
	})
	h.waitState("t1", types.TaskStarting)
	c, _ := h.exec.containerOf("t1")
	if err := h.exec.setHealth(c.ID, executor.HealthHealthy); err != nil {
		t.Fatal(err)
	}
	close(h.exec.startGate)
	h.waitRunning("t1")
}

func TestHealthcheckDisabledRunsAtOnce(t *testing.T) {
	h := newHarness(t)
	h.exec.imageHealthcheck["nginx:alpine"] = true
	h.start()
	tk := newTask("t1", 1)
	tk.Spec.Healthcheck = &types.HealthConfig{Test: []string{"NONE"}}
	h.addTasks(tk, newTask("t2", 2))
	h.waitRunning("t1")
	if got := h.prop.reported("t1"); !equalStates(got, startStates) {
		t.Errorf("reported %v, want %v", got, startStates)
	}
	// The image's check does hold the other task.
	h.waitState("t2", types.TaskStarting)
	cid := h.waitStarted("t2")
	if s := h.task("t2").Status.State; s != types.TaskStarting {
		t.Errorf("t2 %s with the image's health check pending, want STARTING", s)
	}
	// A task deleted while waiting is forgotten; its container removed.
	h.propose(store.Change{DeleteTask: "t2"})
	waitFor(t, "removal of the deleted task's container", func() string {
		if _, ok := h.exec.container(cid); ok {
			return "container still there"
		}
		return ""
	})
}

// A task waiting for health that is told to stop is stopped, SHUTDOWN.
func TestShutdownWhileWaitingForHealth(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.addTasks(healthTask("t1", 1))
	cid := h.waitStarted("t1")
	h.waitState("t1", types.TaskStarting)
	h.setDesired("t1", types.TaskShutdown)
	h.waitState("t1", types.TaskShutdown)
	h.waitStopped(cid)
	// A late healthy event changes nothing.
	if err := h.exec.setHealth(cid, executor.HealthHealthy); err != nil {
		t.Fatal(err)
	}
	want := append(append([]types.TaskState{}, startingStates...), types.TaskShutdown)
	if got := h.prop.reported("t1"); !equalStates(got, want) {
		t.Errorf("reported %v, want %v", got, want)
	}
}
