package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sw/cluster/agent"
	"sw/cluster/dispatcher"
	"sw/cluster/store"
	"sw/cluster/types"
)

const nodeID = "node1"

// waitTimeout bounds every wait; all the agent's reactions are immediate,
// so it only matters when a test fails.
const waitTimeout = 5 * time.Second

// harness runs a real agent over a real store (store.Local proposer,
// dispatcher.Local source) and a fake engine.
type harness struct {
	t     *testing.T
	st    *store.Store
	local *store.Local
	prop  *recordingProposer
	exec  *fakeExec
	src   *countingSource

	cancel context.CancelFunc
	done   chan struct{}
}

// countingSource counts the agent's Assignments calls (each one is
// followed by a reconcile).
type countingSource struct {
	*dispatcher.Local
	calls atomic.Int64
}

func (s *countingSource) Assignments(ctx context.Context) ([]*types.Task, <-chan struct{}, error) {
	tasks, changed, err := s.Local.Assignments(ctx)
	s.calls.Add(1)
	return tasks, changed, err
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st := store.New()
	local := &store.Local{Store: st}
	prop := &recordingProposer{local: local}
	return &harness{
		t: t, st: st, local: local, prop: prop, exec: newFakeExec(),
		src: &countingSource{Local: &dispatcher.Local{NodeID: nodeID, Store: st, Proposer: prop}},
	}
}

// start runs the agent until the test ends; the test then checks that every
// state the agent reported moved its task forward.
func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	a := &agent.Agent{NodeID: nodeID, Exec: h.exec, Source: h.src,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() {
		defer close(h.done)
		a.Run(ctx)
	}()
	h.t.Cleanup(func() {
		cancel()
		close(h.exec.done)
		select {
		case <-h.done:
		case <-time.After(waitTimeout):
			h.t.Errorf("agent.Run did not return after its context ended")
		}
		h.checkForward()
	})
}

// checkForward fails the test if the agent reported, for any task, a state
// that does not move forward from the one it reported before.
func (h *harness) checkForward() {
	h.t.Helper()
	h.prop.mu.Lock()
	defer h.prop.mu.Unlock()
	last := map[string]types.TaskState{}
	for _, u := range h.prop.updates {
		if u.NodeID != nodeID {
			h.t.Errorf("report for task %s from node %q", u.TaskID, u.NodeID)
		}
		if prev, ok := last[u.TaskID]; ok && !prev.CanMoveTo(u.Status.State) {
			h.t.Errorf("task %s: reported %s after %s", u.TaskID, u.Status.State, prev)
		}
		last[u.TaskID] = u.Status.State
	}
}

func (h *harness) propose(changes ...store.Change) {
	h.t.Helper()
	if err := h.local.Propose(context.Background(), &store.Command{Changes: changes}); err != nil {
		h.t.Fatalf("propose: %v", err)
	}
}

func (h *harness) addTasks(tasks ...*types.Task) {
	h.t.Helper()
	changes := make([]store.Change, len(tasks))
	for i, tk := range tasks {
		changes[i] = store.Change{CreateTask: tk}
	}
	h.propose(changes...)
}

func (h *harness) setDesired(taskID string, s types.TaskState) {
	h.t.Helper()
	h.propose(store.Change{TaskDesired: &store.TaskDesiredFrom{TaskID: taskID, State: s}})
	if got := h.task(taskID).DesiredState; got != s {
		h.t.Fatalf("task %s: desired state %s, want %s", taskID, got, s)
	}
}

func (h *harness) task(id string) *types.Task {
	h.t.Helper()
	tk := h.st.View().Task(id)
	if tk == nil {
		h.t.Fatalf("task %s is not in the store", id)
	}
	return tk
}

// waitState waits for the store to show the task in state want.
func (h *harness) waitState(id string, want types.TaskState) *types.Task {
	h.t.Helper()
	var tk *types.Task
	waitFor(h.t, fmt.Sprintf("task %s %s", id, want), func() string {
		tk = h.task(id)
		if tk.Status.State == want {
			return ""
		}
		return fmt.Sprintf("state %s (%s %s)", tk.Status.State, tk.Status.Message, tk.Status.Err)
	})
	return tk
}

// waitRunning takes a task to RUNNING and returns its container's ID.
func (h *harness) waitRunning(id string) string {
	h.t.Helper()
	tk := h.waitState(id, types.TaskRunning)
	if tk.Status.ContainerID == "" {
		h.t.Fatalf("task %s RUNNING without a container ID", id)
	}
	return tk.Status.ContainerID
}

// waitFor polls cond until it returns "" (done) or waitTimeout passes; a
// non-empty result says what is still wrong.
func waitFor(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, msg)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newTask(id string, slot uint64) *types.Task {
	return &types.Task{ID: id, ServiceID: "svc1", ServiceName: "web", Slot: slot, NodeID: nodeID, SpecVersion: 1,
		Spec:         types.ContainerSpec{Image: "nginx:alpine", StopGracePeriod: 3 * time.Second},
		DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskAssigned, Message: "scheduled"}}
}

// runningTask is a task a previous run of the agent had started.
func runningTask(id string, slot uint64, cid string) *types.Task {
	tk := newTask(id, slot)
	tk.Status = types.TaskStatus{State: types.TaskRunning, Message: "started", ContainerID: cid, Addr: "10.9.9.9"}
	return tk
}

func equalStates(a, b []types.TaskState) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

var startStates = []types.TaskState{types.TaskAccepted, types.TaskPreparing, types.TaskStarting, types.TaskRunning}

func TestStartsAssignedTask(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.addTasks(newTask("t1", 1))
	cid := h.waitRunning("t1")

	tk := h.task("t1")
	c, ok := h.exec.container(cid)
	if !ok || c.TaskID != "t1" || !c.Running {
		t.Fatalf("container %s: %+v (exists %v), want running for t1", cid, c, ok)
	}
	if tk.Status.Addr == "" || tk.Status.Addr != c.Addr {
		t.Errorf("status Addr %q, want the container's %q", tk.Status.Addr, c.Addr)
	}
	if tk.Status.Message != "started" || tk.Status.Err != "" || tk.Status.ExitCode != nil {
		t.Errorf("status %+v", tk.Status)
	}
	if n := h.exec.count("Prepare", "t1"); n != 1 {
		t.Errorf("Prepare called %d times, want 1", n)
	}
	if n := h.exec.count("Create", "t1"); n != 1 {
		t.Errorf("Create called %d times, want 1", n)
	}
	if n := h.exec.count("Start", cid); n != 1 {
		t.Errorf("Start called %d times, want 1", n)
	}
	if got := h.prop.reported("t1"); !equalStates(got, startStates) {
		t.Errorf("reported %v, want %v", got, startStates)
	}
	// Unrelated commits do not start it again.
	h.addTasks(&types.Task{ID: "other", ServiceID: "svc1", NodeID: "node2", DesiredState: types.TaskRunning,
		Status: types.TaskStatus{State: types.TaskAssigned}})
	h.addTasks(newTask("t2", 2))
	h.waitRunning("t2")
	if n := h.exec.count("Create", "t1"); n != 1 {
		t.Errorf("Create called %d times for t1 after more commits, want 1", n)
	}
	if n := h.exec.count("Prepare", "other"); n != 0 {
		t.Errorf("the agent acted on another node's task")
	}
}

func TestStartFailures(t *testing.T) {
	boom := errors.New("No such image: nope:latest (pull failed: manifest unknown)")
	for _, tc := range []struct {
		name    string
		setup   func(f *fakeExec)
		want    types.TaskState
		message string
		creates int // Create calls
		created int // containers left
	}{
		{"prepare", func(f *fakeExec) { f.prepareErr["t1"] = boom }, types.TaskRejected, "preparing", 0, 0},
		{"create", func(f *fakeExec) { f.createErr["t1"] = boom }, types.TaskFailed, "creating container", 1, 0},
		{"start", func(f *fakeExec) { f.startErr["c0001"] = boom }, types.TaskFailed, "starting container", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.setup(h.exec)
			h.start()
			h.addTasks(newTask("t1", 1))
			tk := h.waitState("t1", tc.want)
			if tk.Status.Err != boom.Error() || tk.Status.Message != tc.message {
				t.Errorf("status message %q err %q, want %q and %q", tk.Status.Message, tk.Status.Err, tc.message, boom)
			}
			if n := h.exec.numContainers(); n != tc.created {
				t.Errorf("%d containers, want %d", n, tc.created)
			}
			if n := h.exec.count("Create", "t1"); n != tc.creates {
				t.Errorf("Create called %d times, want %d", n, tc.creates)
			}
			// Nothing retries a task that has failed: a new task replaces it.
			h.addTasks(newTask("t2", 2))
			h.waitRunning("t2")
			if n := h.exec.count("Prepare", "t1"); n != 1 {
				t.Errorf("Prepare called %d times for t1, want 1", n)
			}
			if s := h.task("t1").Status.State; s != tc.want {
				t.Errorf("t1 %s after more commits, want %s", s, tc.want)
			}
		})
	}
}

func TestContainerExit(t *testing.T) {
	for _, tc := range []struct {
		code int
		want types.TaskState
		err  string
	}{
		{3, types.TaskFailed, "task: non-zero exit (3)"},
		{137, types.TaskFailed, "task: non-zero exit (137)"},
		{0, types.TaskComplete, ""},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			h := newHarness(t)
			h.start()
			h.addTasks(newTask("t1", 1))
			cid := h.waitRunning("t1")
			if err := h.exec.exit(cid, tc.code); err != nil {
				t.Fatal(err)
			}
			tk := h.waitState("t1", tc.want)
			if tk.Status.Err != tc.err {
				t.Errorf("Err %q, want %q", tk.Status.Err, tc.err)
			}
			if tk.Status.ExitCode == nil || *tk.Status.ExitCode != tc.code {
				t.Errorf("ExitCode %v, want %d", tk.Status.ExitCode, tc.code)
			}
			if tk.Status.ContainerID != cid {
				t.Errorf("ContainerID %q after exit, want %q", tk.Status.ContainerID, cid)
			}
			// The container of a finished task is kept, as Docker keeps it.
			if _, ok := h.exec.container(cid); !ok {
				t.Errorf("container removed after its exit")
			}
			want := append(append([]types.TaskState{}, startStates...), tc.want)
			if got := h.prop.reported("t1"); !equalStates(got, want) {
				t.Errorf("reported %v, want %v", got, want)
			}
		})
	}
}

func TestShutdownAndRemove(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.addTasks(newTask("t1", 1))
	cid := h.waitRunning("t1")

	h.setDesired("t1", types.TaskShutdown)
	tk := h.waitState("t1", types.TaskShutdown)
	if tk.Status.ExitCode != nil || tk.Status.Err != "" {
		t.Errorf("shutdown status %+v", tk.Status)
	}
	if n := h.exec.count("Stop", cid+"/3s"); n != 1 {
		t.Errorf("Stop(%s, 3s) called %d times, want 1 (calls %v)", cid, n, h.exec.calls)
	}
	c, ok := h.exec.container(cid)
	if !ok || c.Running {
		t.Fatalf("after shutdown container %+v (exists %v), want kept and stopped", c, ok)
	}
	if n := h.exec.count("Remove", ""); n != 0 {
		t.Errorf("Remove called %d times on shutdown, want 0", n)
	}

	h.setDesired("t1", types.TaskRemove)
	waitFor(t, "container removal", func() string {
		if _, ok := h.exec.container(cid); ok {
			return "container still there"
		}
		return ""
	})
	if n := h.exec.count("Remove", cid); n != 1 {
		t.Errorf("Remove called %d times, want 1", n)
	}
	if s := h.task("t1").Status.State; s != types.TaskShutdown {
		t.Errorf("state %s after removal, want SHUTDOWN", s)
	}
}

func TestRemoveWhileRunning(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.addTasks(newTask("t1", 1))
	cid := h.waitRunning("t1")

	h.setDesired("t1", types.TaskRemove)
	h.waitState("t1", types.TaskShutdown)
	waitFor(t, "container removal", func() string {
		if _, ok := h.exec.container(cid); ok {
			return "container still there"
		}
		return ""
	})
	if n := h.exec.count("Stop", ""); n != 1 {
		t.Errorf("Stop called %d times, want 1 (stopped within its grace period first)", n)
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	h := newHarness(t)
	tk := newTask("t1", 1)
	tk.DesiredState = types.TaskShutdown
	h.addTasks(tk)
	h.start()
	h.waitState("t1", types.TaskShutdown)
	if n := h.exec.count("Prepare", ""); n != 0 {
		t.Errorf("Prepare called for a task never wanted running")
	}
	if n := h.exec.numContainers(); n != 0 {
		t.Errorf("%d containers, want none", n)
	}
}

func TestDeletedTaskContainerRemoved(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.addTasks(newTask("t1", 1), newTask("t2", 2))
	cid := h.waitRunning("t1")
	cid2 := h.waitRunning("t2")

	h.propose(store.Change{DeleteTask: "t1"})
	waitFor(t, "removal of the deleted task's container", func() string {
		if _, ok := h.exec.container(cid); ok {
			return "container still there"
		}
		return ""
	})
	if got := h.prop.reported("t1"); !equalStates(got, startStates) {
		t.Errorf("reported %v for the deleted task, want nothing after RUNNING", got)
	}
	if c, ok := h.exec.container(cid2); !ok || !c.Running {
		t.Errorf("the other task's container was touched: %+v %v", c, ok)
	}
}

func TestFailedRemovalRetried(t *testing.T) {
	h := newHarness(t)
	h.exec.removeFails = 1
	h.start()
	h.addTasks(newTask("t1", 1))
	cid := h.waitRunning("t1")

	// Nothing commits after the deletion, so only the agent itself can
	// bring about the retry.
	h.propose(store.Change{DeleteTask: "t1"})
	waitFor(t, "removal after a failed attempt", func() string {
		if _, ok := h.exec.container(cid); ok {
			return fmt.Sprintf("container still there after %d Remove calls", h.exec.count("Remove", cid))
		}
		return ""
	})
	if n := h.exec.count("Remove", cid); n != 2 {
		t.Errorf("Remove called %d times, want 2", n)
	}
}

// TestRunWaitsForWorkers: Run returns only once every goroutine it
// started has, a task worker whose engine call outlives ctx too.
func TestRunWaitsForWorkers(t *testing.T) {
	h := newHarness(t)
	hold := make(chan struct{})
	h.exec.startHold = hold
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &agent.Agent{NodeID: nodeID, Exec: h.exec, Source: h.src, Log: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	h.addTasks(newTask("t1", 1))
	waitFor(t, "Start", func() string {
		if h.exec.count("Start", "") == 0 {
			return "not called"
		}
		return ""
	})
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a task worker was still in Start")
	case <-time.After(50 * time.Millisecond): // nothing to wait for: Run must not return
	}
	close(hold)
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return once its worker had")
	}
	close(h.exec.done)
}

func TestShutdownWhileStarting(t *testing.T) {
	h := newHarness(t)
	h.exec.startGate = make(chan struct{})
	h.start()
	h.addTasks(newTask("t1", 1))
	waitFor(t, "Start", func() string {
		if h.exec.count("Start", "") == 0 {
			return "not called"
		}
		return ""
	})
	before := h.src.calls.Load()
	h.setDesired("t1", types.TaskShutdown)
	// The agent has seen the change while the task was busy starting.
	waitFor(t, "the agent to see the change", func() string {
		if h.src.calls.Load() == before {
			return "no Assignments call"
		}
		return ""
	})
	close(h.exec.startGate)
	h.waitState("t1", types.TaskShutdown)
	cid := h.task("t1").Status.ContainerID
	c, ok := h.exec.container(cid)
	if !ok || c.Running {
		t.Errorf("container %+v (exists %v), want stopped", c, ok)
	}
	if n := h.exec.count("Stop", ""); n != 1 {
		t.Errorf("Stop called %d times, want 1", n)
	}
}

func TestAdoption(t *testing.T) {
	h := newHarness(t)
	h.addTasks(
		runningTask("alive", 1, "old-alive"),
		runningTask("died", 2, "old-died"),
		runningTask("done", 3, "old-done"),
		runningTask("missing", 4, "old-missing"),
		// Created, then the daemon restarted before it was started.
		func() *types.Task {
			tk := newTask("created", 5)
			tk.Status = types.TaskStatus{State: types.TaskStarting, ContainerID: "old-created"}
			return tk
		}(),
	)
	h.exec.add(fakeContainer{ID: "old-alive", TaskID: "alive", Running: true, Addr: "10.9.9.9"})
	h.exec.add(fakeContainer{ID: "old-died", TaskID: "died", ExitCode: 2})
	h.exec.add(fakeContainer{ID: "old-done", TaskID: "done", ExitCode: 0})
	h.exec.add(fakeContainer{ID: "old-created", TaskID: "created"})
	h.exec.add(fakeContainer{ID: "old-ghost", TaskID: "ghost", Running: true})
	h.start()

	died := h.waitState("died", types.TaskFailed)
	if died.Status.Err != "task: non-zero exit (2)" || died.Status.ExitCode == nil || *died.Status.ExitCode != 2 {
		t.Errorf("died: status %+v", died.Status)
	}
	done := h.waitState("done", types.TaskComplete)
	if done.Status.ExitCode == nil || *done.Status.ExitCode != 0 {
		t.Errorf("done: status %+v", done.Status)
	}
	missing := h.waitState("missing", types.TaskFailed)
	if !strings.Contains(missing.Status.Err, "missing") {
		t.Errorf("missing: status %+v", missing.Status)
	}
	created := h.waitState("created", types.TaskRunning)
	if created.Status.ContainerID != "old-created" {
		t.Errorf("created: ContainerID %q, want the existing old-created", created.Status.ContainerID)
	}
	waitFor(t, "removal of the unknown task's container", func() string {
		if _, ok := h.exec.container("old-ghost"); ok {
			return "old-ghost still there"
		}
		return ""
	})

	alive := h.task("alive")
	if alive.Status.State != types.TaskRunning || alive.Status.ContainerID != "old-alive" {
		t.Errorf("alive: status %+v, want RUNNING in old-alive", alive.Status)
	}
	if c, ok := h.exec.container("old-alive"); !ok || !c.Running {
		t.Errorf("old-alive: %+v (exists %v), want running", c, ok)
	}
	if n := h.exec.count("Create", ""); n != 0 {
		t.Errorf("Create called %d times, want 0: every task had its container", n)
	}
	if n := h.exec.count("Start", "old-alive"); n != 0 {
		t.Errorf("Start called on the adopted running container")
	}
	if n := h.exec.count("Remove", ""); n != 1 {
		t.Errorf("Remove called %d times, want 1 (old-ghost only)", n)
	}
	for _, id := range []string{"alive", "died", "done", "missing"} {
		if got := h.prop.reported(id); len(got) > 1 {
			t.Errorf("%s: reported %v, want at most one terminal state", id, got)
		}
	}

	// An adopted container's exit is reported at once, not at a later resync.
	if err := h.exec.exit("old-alive", 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the adopted container's exit", func() string {
		if tk := h.task("alive"); tk.Status.State != types.TaskFailed {
			return "state " + tk.Status.State.String()
		}
		return ""
	})
	if got := h.task("alive").Status.Err; got != "task: non-zero exit (1)" {
		t.Errorf("alive: Err %q", got)
	}
}

func TestAdoptionRetriesList(t *testing.T) {
	h := newHarness(t)
	h.exec.listErr = errors.New("engine down")
	h.addTasks(newTask("t1", 1))
	h.start()
	waitFor(t, "a List call", func() string {
		if h.exec.count("List", "") == 0 {
			return "none"
		}
		return ""
	})
	if n := h.exec.count("Prepare", ""); n != 0 {
		t.Fatalf("tasks started before the engine's containers were known")
	}
	h.exec.mu.Lock()
	h.exec.listErr = nil
	h.exec.mu.Unlock()
	h.waitRunning("t1")
}

func TestManyTasksInParallelBatched(t *testing.T) {
	const n = 30
	h := newHarness(t)
	h.exec.startBarrier, h.exec.barrierTimeout = n, waitTimeout
	h.start()
	tasks := make([]*types.Task, n)
	for i := range tasks {
		tasks[i] = newTask(fmt.Sprintf("t%02d", i), uint64(i+1))
	}
	h.addTasks(tasks...)
	for _, tk := range tasks {
		h.waitRunning(tk.ID)
	}
	h.exec.mu.Lock()
	maxInflight := h.exec.maxInflight
	h.exec.mu.Unlock()
	if maxInflight != n {
		t.Errorf("at most %d Starts in flight, want %d", maxInflight, n)
	}
	calls, updates := h.prop.stats()
	if updates != n*len(startStates) {
		t.Errorf("%d updates reported, want %d", updates, n*len(startStates))
	}
	if calls >= updates {
		t.Errorf("%d Report calls for %d updates: not batched", calls, updates)
	}
	t.Logf("%d updates in %d Report calls", updates, calls)
	for _, tk := range tasks {
		if c := h.exec.count("Create", tk.ID); c != 1 {
			t.Errorf("%s: Create called %d times", tk.ID, c)
		}
		if got := h.prop.reported(tk.ID); !equalStates(got, startStates) {
			t.Errorf("%s: reported %v", tk.ID, got)
		}
	}
}

func TestStoppedTaskExitIsNoFailure(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.addTasks(newTask("t1", 1))
	cid := h.waitRunning("t1")

	// The fake's Stop delivers the die event (code 137) and returns only
	// once the agent has handled it: before SHUTDOWN is reported.
	h.setDesired("t1", types.TaskShutdown)
	h.waitState("t1", types.TaskShutdown)
	if n := h.exec.count("Stop", ""); n != 1 {
		t.Fatalf("Stop called %d times", n)
	}
	want := append(append([]types.TaskState{}, startStates...), types.TaskShutdown)
	if got := h.prop.reported("t1"); !equalStates(got, want) {
		t.Errorf("reported %v, want %v: the stop's exit was taken for a failure", got, want)
	}
	// A later event for the stopped container changes nothing.
	if err := h.exec.exit(cid, 1); err != nil {
		t.Fatal(err)
	}
	h.addTasks(newTask("t2", 2)) // a commit, and a reconcile, after the event
	h.waitRunning("t2")
	if got := h.prop.reported("t1"); !equalStates(got, want) {
		t.Errorf("reported %v after a late exit, want %v", got, want)
	}
}

// While reports cannot be delivered they queue without bound and the agent
// keeps working; once Report succeeds again they all arrive, in order.
func TestReportsQueueWhileReportFails(t *testing.T) {
	const n = 600 // 4 reports each: more than any fixed buffer would hold
	h := newHarness(t)
	h.prop.setFailing(true)
	h.start()
	tasks := make([]*types.Task, n)
	for i := range tasks {
		tasks[i] = newTask(fmt.Sprintf("t%03d", i), uint64(i+1))
	}
	h.addTasks(tasks...)
	waitFor(t, "every task started while reports fail", func() string {
		if c := h.exec.count("Start", ""); c < n {
			return fmt.Sprintf("%d of %d started", c, n)
		}
		return ""
	})
	// The agent still acts on changes.
	h.setDesired("t000", types.TaskShutdown)
	waitFor(t, "a stop while reports fail", func() string {
		if h.exec.count("Stop", "") == 0 {
			return "no Stop"
		}
		return ""
	})
	if s := h.task("t001").Status.State; s != types.TaskAssigned {
		t.Fatalf("t001 %s in the store while every report failed", s)
	}

	h.prop.setFailing(false)
	h.waitState("t000", types.TaskShutdown)
	for _, tk := range tasks[1:] {
		h.waitRunning(tk.ID)
	}
	for _, tk := range tasks[1:] {
		if got := h.prop.reported(tk.ID); !equalStates(got, startStates) {
			t.Fatalf("%s: reported %v, want %v", tk.ID, got, startStates)
		}
	}
}
