package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"sw/cluster/executor"
	"sw/cluster/store"
	"sw/cluster/types"
)

// fakeContainer is one container of the fake engine.
type fakeContainer struct {
	ID       string
	TaskID   string
	Running  bool
	ExitCode int
	Addr     string
	// Health is the health check's status; "" without a health check.
	Health string
}

// fakeExec is an in-memory Executor: containers in a map, configurable
// failures, an exit stream the test pushes to, and a record of every call.
type fakeExec struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer
	next       int
	calls      []string // "method arg", in call order

	// Errors to return; keyed by task ID (Prepare, Create) or container ID (Start).
	prepareErr map[string]error
	createErr  map[string]error
	startErr   map[string]error
	// removeFails makes that many Remove calls fail before they succeed.
	removeFails int
	listErr     error

	// startGate, when set, holds every Start until it is closed.
	startGate chan struct{}
	// startHold, when set, holds every Start until it is closed, ctx or
	// not: an engine call slow to give up.
	startHold chan struct{}
	// startBarrier, when > 0, holds every Start until that many are in
	// flight at once (or barrierTimeout passes: Start then fails).
	startBarrier   int
	barrierTimeout time.Duration
	barrierOpen    chan struct{}
	inflight       int
	maxInflight    int

	// imageHealthcheck names the images with a HEALTHCHECK.
	imageHealthcheck map[string]bool
	// startHealth, keyed by task ID, is the health Start reports instead
	// of the container's.
	startHealth map[string]string

	// exits and healths are unbuffered: a send returns once the agent has
	// taken it.
	exits   chan executor.Exit
	healths chan executor.HealthChange
	done    chan struct{} // closed by the test at its end
}

func newFakeExec() *fakeExec {
	return &fakeExec{
		containers: map[string]*fakeContainer{},
		prepareErr: map[string]error{},
		createErr:  map[string]error{},
		startErr:   map[string]error{},
		exits:      make(chan executor.Exit),
		healths:    make(chan executor.HealthChange),

		imageHealthcheck: map[string]bool{},
		startHealth:      map[string]string{},
		done:             make(chan struct{}),
		barrierOpen:      make(chan struct{}),
	}
}

func (f *fakeExec) record(method, arg string) {
	f.calls = append(f.calls, method+" "+arg)
}

// count returns how many times method was called with arg ("" for any).
func (f *fakeExec) count(method, arg string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		m, a, _ := strings.Cut(c, " ")
		if m == method && (arg == "" || a == arg) {
			n++
		}
	}
	return n
}

// add puts a container on the engine, as one left by a previous run.
func (f *fakeExec) add(c fakeContainer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cc := c
	f.containers[c.ID] = &cc
}

// container returns a copy of a container and whether it exists.
func (f *fakeExec) container(id string) (fakeContainer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fakeContainer{}, false
	}
	return *c, true
}

// containerOf returns the container of a task, if any.
func (f *fakeExec) containerOf(taskID string) (fakeContainer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.TaskID == taskID {
			return *c, true
		}
	}
	return fakeContainer{}, false
}

func (f *fakeExec) numContainers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.containers)
}

// exit kills a container with a code and delivers the die event. It returns
// once the agent has finished handling that event: a second, empty event is
// sent after it, and the agent takes it only after handling the first.
func (f *fakeExec) exit(cid string, code int) error {
	f.mu.Lock()
	c, ok := f.containers[cid]
	var taskID string
	if ok {
		c.Running, c.ExitCode = false, code
		taskID = c.TaskID
	}
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("fake: no container %s", cid)
	}
	for _, e := range []executor.Exit{{ContainerID: cid, TaskID: taskID, ExitCode: code}, {}} {
		select {
		case f.exits <- e:
		case <-f.done:
			return errors.New("fake: test over")
		case <-time.After(5 * time.Second):
			return errors.New("fake: the agent does not take exit events")
		}
	}
	return nil
}

func (f *fakeExec) Prepare(ctx context.Context, t *types.Task) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Prepare", t.ID)
	return f.prepareErr[t.ID]
}

func (f *fakeExec) Create(ctx context.Context, t *types.Task) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Create", t.ID)
	if err := f.createErr[t.ID]; err != nil {
		return "", err
	}
	f.next++
	id := fmt.Sprintf("c%04d", f.next)
	c := &fakeContainer{ID: id, TaskID: t.ID}
	// Like the engine: the spec's test, else the image's, unless disabled.
	h := t.Spec.Healthcheck
	if (h != nil && len(h.Test) > 0 && !h.Disabled()) || (f.imageHealthcheck[t.Spec.Image] && !h.Disabled()) {
		c.Health = executor.HealthStarting
	}
	f.containers[id] = c
	return id, nil
}

func (f *fakeExec) Start(ctx context.Context, cid string) (executor.Container, error) {
	f.mu.Lock()
	f.record("Start", cid)
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	if f.startBarrier > 0 && f.inflight == f.startBarrier {
		close(f.barrierOpen)
	}
	gate, barrier, timeout, hold := f.startGate, f.startBarrier, f.barrierTimeout, f.startHold
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return executor.Container{}, ctx.Err()
		}
	}
	if barrier > 0 {
		select {
		case <-f.barrierOpen:
		case <-ctx.Done():
			return executor.Container{}, ctx.Err()
		case <-time.After(timeout):
			return executor.Container{}, errors.New("fake: start barrier timed out: starts are not parallel")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.startErr[cid]; err != nil {
		return executor.Container{}, err
	}
	c, ok := f.containers[cid]
	if !ok {
		return executor.Container{}, fmt.Errorf("No such container: %s", cid)
	}
	c.Running = true
	c.Addr = "10.0.0." + strings.TrimLeft(cid[1:], "0")
	out := c.inspect()
	if h, ok := f.startHealth[c.TaskID]; ok {
		out.Health = h
	}
	return out, nil
}

// inspect is what the engine's inspect says of the container.
func (c *fakeContainer) inspect() executor.Container {
	h := c.Health
	if h == "" {
		h = executor.HealthNone
	}
	return executor.Container{ID: c.ID, TaskID: c.TaskID, Running: c.Running, ExitCode: c.ExitCode, Addr: c.Addr, Health: h}
}

// setHealth changes a container's health and delivers the event; like
// exit, it returns once the agent has handled it.
func (f *fakeExec) setHealth(cid, status string) error {
	f.mu.Lock()
	c, ok := f.containers[cid]
	var taskID string
	if ok {
		c.Health = status
		taskID = c.TaskID
	}
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("fake: no container %s", cid)
	}
	for _, e := range []executor.HealthChange{{ContainerID: cid, TaskID: taskID, Status: status}, {}} {
		select {
		case f.healths <- e:
		case <-f.done:
			return errors.New("fake: test over")
		case <-time.After(5 * time.Second):
			return errors.New("fake: the agent does not take health events")
		}
	}
	return nil
}

// Stop stops the container; like Docker, the engine then reports its death.
func (f *fakeExec) Stop(ctx context.Context, cid string, grace time.Duration) error {
	f.mu.Lock()
	f.record("Stop", fmt.Sprintf("%s/%s", cid, grace))
	c, ok := f.containers[cid]
	running := ok && c.Running
	f.mu.Unlock()
	if running {
		return f.exit(cid, 137)
	}
	return nil
}

func (f *fakeExec) Remove(ctx context.Context, cid string) error {
	f.mu.Lock()
	f.record("Remove", cid)
	if f.removeFails > 0 {
		f.removeFails--
		f.mu.Unlock()
		return errors.New("fake: removal failed")
	}
	c, ok := f.containers[cid]
	running := ok && c.Running
	f.mu.Unlock()
	if running { // forced removal: the container dies first
		if err := f.exit(cid, 137); err != nil {
			return err
		}
	}
	f.mu.Lock()
	delete(f.containers, cid)
	f.mu.Unlock()
	return nil
}

func (f *fakeExec) Inspect(ctx context.Context, cid string) (executor.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Inspect", cid)
	c, ok := f.containers[cid]
	if !ok {
		return executor.Container{}, fmt.Errorf("%w: No such container: %s", executor.ErrContainerGone, cid)
	}
	return c.inspect(), nil
}

func (f *fakeExec) List(ctx context.Context) ([]executor.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("List", "")
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []executor.Container
	for _, c := range f.containers {
		// Like the engine's list, no exit code.
		out = append(out, executor.Container{ID: c.ID, TaskID: c.TaskID, Running: c.Running})
	}
	return out, nil
}

// Exits forwards the test's events until ctx ends.
func (f *fakeExec) Exits(ctx context.Context) (<-chan executor.Exit, <-chan error) {
	return forward(ctx, f.exits)
}

// HealthChanges forwards the test's health events until ctx ends.
func (f *fakeExec) HealthChanges(ctx context.Context) (<-chan executor.HealthChange, <-chan error) {
	return forward(ctx, f.healths)
}

// forward relays in to the returned channel until ctx ends, then reports
// ctx's error, as the engine's event streams end.
func forward[T any](ctx context.Context, in <-chan T) (<-chan T, <-chan error) {
	out := make(chan T)
	errs := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			case e := <-in:
				select {
				case out <- e:
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
			}
		}
	}()
	return out, errs
}

func (f *fakeExec) Logs(ctx context.Context, cid string, follow bool, tail string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}

// recordingProposer commits through a store.Local, counting the calls and
// recording every task status update in order. While failing is set, every
// call fails without committing.
type recordingProposer struct {
	local *store.Local

	mu      sync.Mutex
	calls   int
	failed  int
	updates []store.TaskStatusFrom
	failing bool
}

func (p *recordingProposer) Propose(ctx context.Context, cmd *store.Command) error {
	p.mu.Lock()
	if p.failing {
		p.failed++
		p.mu.Unlock()
		return errors.New("fake: no leader")
	}
	p.calls++
	for _, c := range cmd.Changes {
		if c.TaskStatus != nil {
			p.updates = append(p.updates, *c.TaskStatus)
		}
	}
	p.mu.Unlock()
	return p.local.Propose(ctx, cmd)
}

func (p *recordingProposer) setFailing(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing = v
}

// stats returns the number of successful calls and of updates they carried.
func (p *recordingProposer) stats() (calls, updates int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, len(p.updates)
}

// reported returns the states reported for a task, in order.
func (p *recordingProposer) reported(taskID string) []types.TaskState {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []types.TaskState
	for _, u := range p.updates {
		if u.TaskID == taskID {
			out = append(out, u.Status.State)
		}
	}
	return out
}
