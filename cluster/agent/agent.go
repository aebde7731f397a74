// Package agent runs on every node: it takes the tasks assigned to the
// node, makes the engine match them through an Executor, and reports each
// task's state as it moves forward. After a restart it adopts the
// containers it finds by label and removes those of tasks it no longer has.
//
// A task whose container has a health check (the spec's or the image's
// HEALTHCHECK) stays STARTING until the engine calls it healthy; once
// unhealthy, at start or later, its container is stopped and the task
// FAILED ("task: container unhealthy"), for the orchestrator to replace.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/executor"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Executor is what the agent needs from a container engine.
type Executor interface {
	Prepare(ctx context.Context, t *types.Task) error
	Create(ctx context.Context, t *types.Task) (string, error)
	// Start starts a container and returns its state just after (its
	// address, and its health if it has a health check).
	Start(ctx context.Context, containerID string) (executor.Container, error)
	Stop(ctx context.Context, containerID string, grace time.Duration) error
	Remove(ctx context.Context, containerID string) error
	Inspect(ctx context.Context, containerID string) (executor.Container, error)
	List(ctx context.Context) ([]executor.Container, error)
	Exits(ctx context.Context) (<-chan executor.Exit, <-chan error)
	// HealthChanges streams the health changes of the node's task
	// containers (to healthy or unhealthy).
	HealthChanges(ctx context.Context) (<-chan executor.HealthChange, <-chan error)
	Logs(ctx context.Context, containerID string, follow bool, tail string) (io.ReadCloser, error)
}

var _ Executor = (*executor.Docker)(nil)

// onNode is err's message, naming this node's host when known: what one
// host lacks, another may have.
func (a *Agent) onNode(err error) string {
	if a.Hostname == "" {
		return err.Error()
	}
	return fmt.Sprintf("%v (on node %s)", err, a.Hostname)
}

// Attacher makes the networks of a task exist on the node's engine.
type Attacher interface {
	Attach(ctx context.Context, t *types.Task) error
}

// Source hands the agent its assignments and takes its reports.
type Source interface {
	// Assignments returns the node's tasks now and a channel closed when
	// they may have changed.
	Assignments(ctx context.Context) ([]*types.Task, <-chan struct{}, error)
	// Report delivers status updates (a batch, in order).
	Report(ctx context.Context, updates []store.TaskStatusFrom) error
}

// DefaultDrain is the daemons' Agent.Drain, the margin for the other
// nodes: on an idle host the mesh and names follow a commit within
// about 100 ms, and workers hear of it about as fast through their
// sessions. MaxDrain bounds the wait for this node's own loops: as long
// as an iptables-restore may wait for the xtables lock (-w 5), which
// other programs on a busy host hold (at 2 s, one request in ~7,500 was
// refused under the e2e suite's load).
const (
	DefaultDrain = 200 * time.Millisecond
	MaxDrain     = 5 * time.Second
)

// Agent executes one node's tasks.
type Agent struct {
	NodeID string
	Exec   Executor
	Source Source
	Log    *slog.Logger
	Now    func() time.Time
	// Hostname names the node in errors that are the host's own (an
	// image this host cannot get).
	Hostname string
	// Networks, if set, makes a task's networks exist on the engine
	// before its container is made.
	Networks Attacher
	// Drained, if set, returns once this node's routing mesh and name
	// server have applied the state the agent acts on (at most MaxDrain
	// later). A task that was serving (running, on a network) is stopped
	// only after it, and after Drain more, the margin for the other
	// nodes' meshes, which drop it at the same commit: so that no new
	// connection is sent to a container that is going (Docker waits a
	// fixed 2 s there, its "gossip converge delay"). 0 and nil: no wait.
	Drained func(ctx context.Context)
	Drain   time.Duration

	mu         sync.Mutex
	local      map[string]types.TaskState // last state reported per task
	containers map[string]string          // task ID -> container ID
	busy       map[string]bool            // a worker is acting on the task
	stopping   map[string]bool            // stopped on purpose: its exit is no failure
	// waiting holds the tasks started whose health check has not passed
	// yet (they stay STARTING), with the RUNNING status to report once it has.
	waiting map[string]types.TaskStatus
	// health is the last health status the engine's events gave per task.
	health map[string]string
	// unhealthy holds tasks failed as unhealthy whose containers still
	// run: reconcile stops them (it knows their stop grace period).
	unhealthy map[string]bool
	// queue holds the reports not yet handed to Source.Report, in order.
	// It is unbounded so that reporting never blocks with a.mu held, even
	// while Report keeps failing; queued wakes the report loop.
	queue  []store.TaskStatusFrom
	queued chan struct{}
	// kick asks Run to reconcile again: a worker has finished, and changes
	// it made the loop skip (the task was busy) may now call for action.
	kick chan struct{}
	// wg counts every goroutine Run started (its loops and the task
	// workers): Run returns once they all have.
	wg sync.WaitGroup
}

// resyncEvery is how often running tasks are checked against their
// containers, to catch exits whose events were missed.
const resyncEvery = 10 * time.Second

// maxBatch caps the updates sent in one Report.
const maxBatch = 500

// Run works until ctx ends, and returns once every goroutine it started
// (the report, exit and health loops, the task workers) has returned.
func (a *Agent) Run(ctx context.Context) {
	a.local = map[string]types.TaskState{}
	a.containers = map[string]string{}
	a.busy = map[string]bool{}
	a.stopping = map[string]bool{}
	a.waiting = map[string]types.TaskStatus{}
	a.health = map[string]string{}
	a.unhealthy = map[string]bool{}
	a.queued = make(chan struct{}, 1)
	a.kick = make(chan struct{}, 1)
	if a.Now == nil {
		a.Now = func() time.Time { return time.Now().UTC() }
	}
	if a.Log == nil {
		a.Log = slog.Default()
	}
	defer a.wg.Wait()
	for _, loop := range []func(context.Context){a.reportLoop, a.exitLoop, a.healthLoop} {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); loop(ctx) }()
	}
	adopted := false
	// The periodic resync is due at a fixed pace, however often the
	// assignments change: a busy cluster must not put it off for ever.
	nextResync := time.Now().Add(resyncEvery)
	retry := retryEvery(time.Second)
	for ctx.Err() == nil {
		tasks, changed, err := a.Source.Assignments(ctx)
		if err != nil {
			a.Log.Warn("agent: no assignments", "err", err)
			_ = retry.Wait(ctx)
			continue
		}
		if !adopted {
			if err := a.adopt(ctx, tasks); err != nil {
				a.Log.Warn("agent: adopting containers failed; retrying", "err", err)
				_ = retry.Wait(ctx)
				continue
			}
			adopted = true
		}
		retry.Reset()
		a.reconcile(ctx, tasks)
		if !time.Now().Before(nextResync) {
			a.resync(ctx, tasks)
			nextResync = time.Now().Add(resyncEvery)
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-a.kick:
		case <-time.After(time.Until(nextResync)): // periodic resync
		}
	}
}

// retryEvery is the agent's schedule for retrying a failed step: every d,
// jittered (between d/2 and d) so that the nodes of a swarm that failed
// together do not retry together.
func retryEvery(d time.Duration) *backoff.Backoff {
	return &backoff.Backoff{Initial: d, Jitter: backoff.Equal}
}

// report queues a state change; states that do not move forward from what
// this agent last reported are dropped here, as the store would drop them.
func (a *Agent) report(t *types.Task, st types.TaskStatus) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reportLocked(t.ID, t.Status.State, st)
}

// reportLocked is report with a.mu held; from is the store's state, used
// when this agent has reported nothing for the task yet.
func (a *Agent) reportLocked(taskID string, from types.TaskState, st types.TaskStatus) {
	if prev, ok := a.local[taskID]; ok {
		from = prev
	}
	if !from.CanMoveTo(st.State) {
		return
	}
	a.local[taskID] = st.State
	st.Timestamp = a.Now()
	a.queue = append(a.queue, store.TaskStatusFrom{TaskID: taskID, NodeID: a.NodeID, Status: st})
	select {
	case a.queued <- struct{}{}:
	default: // the loop is already woken
	}
}

// reportLoop sends queued reports in batches: everything waiting (up to
// maxBatch) goes in one proposal.
func (a *Agent) reportLoop(ctx context.Context) {
	for ctx.Err() == nil {
		a.mu.Lock()
		n := min(len(a.queue), maxBatch)
		batch := a.queue[:n:n]
		a.queue = a.queue[n:]
		if len(a.queue) == 0 {
			a.queue = nil // let the drained backing array go
		}
		a.mu.Unlock()
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-a.queued:
			}
			continue
		}
		_ = retryEvery(200*time.Millisecond).Retry(ctx, func(ctx context.Context) error {
			err := a.Source.Report(ctx, batch)
			if err != nil {
				a.Log.Warn("agent: report failed; retrying", "err", err, "updates", len(batch))
			}
			return err
		})
	}
}

// state is the task's state as far as this agent knows: the store's, or
// what it reported since, whichever is further on.
func (a *Agent) state(t *types.Task) types.TaskState {
	if s, ok := a.local[t.ID]; ok && s > t.Status.State {
		return s
	}
	return t.Status.State
}

func failed(msg string, err error) types.TaskStatus {
	return types.TaskStatus{State: types.TaskFailed, Message: msg, Err: err.Error()}
}

func exitStatus(code int) types.TaskStatus {
	if code == 0 {
		return types.TaskStatus{State: types.TaskComplete, Message: "finished", ExitCode: &code}
	}
	return types.TaskStatus{State: types.TaskFailed, Message: "started",
		Err: fmt.Sprintf("task: non-zero exit (%d)", code), ExitCode: &code}
}

// errUnhealthy is the error of a task whose container's health check failed.
var errUnhealthy = errors.New("task: container unhealthy")

func unhealthyStatus() types.TaskStatus {
	return types.TaskStatus{State: types.TaskFailed, Message: "unhealthy", Err: errUnhealthy.Error()}
}
