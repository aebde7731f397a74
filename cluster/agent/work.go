package agent

import (
	"context"
	"errors"
	"time"

	"sw/cluster/executor"
	"sw/cluster/types"
)

// reconcile starts, stops and removes what the assignments call for. Each
// action runs in its own goroutine; a task has at most one at a time.
func (a *Agent) reconcile(ctx context.Context, tasks []*types.Task) {
	a.mu.Lock()
	defer a.mu.Unlock()
	assigned := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		assigned[t.ID] = true
		if a.busy[t.ID] {
			continue
		}
		st := a.state(t)
		_, waiting := a.waiting[t.ID]
		switch {
		case a.unhealthy[t.ID]:
			delete(a.unhealthy, t.ID)
			a.spawn(ctx, t.ID, func(ctx context.Context) { a.stop(ctx, t) })
		case t.DesiredState == types.TaskRunning && st >= types.TaskAssigned && st < types.TaskRunning && !waiting &&
			types.Allocated(t.Networks): // its addresses first, from the leader's allocator
			a.spawn(ctx, t.ID, func(ctx context.Context) { a.start(ctx, t) })
		case t.DesiredState > types.TaskRunning && st >= types.TaskAssigned && !st.Terminal():
			a.spawn(ctx, t.ID, func(ctx context.Context) { a.stop(ctx, t) })
		case t.DesiredState == types.TaskRemove && a.containers[t.ID] != "":
			a.spawn(ctx, t.ID, func(ctx context.Context) { a.removeContainer(ctx, t.ID) })
		}
	}
	for id := range a.containers {
		if !assigned[id] && !a.busy[id] {
			a.spawn(ctx, id, func(ctx context.Context) { a.removeContainer(ctx, id) })
		}
	}
	for id := range a.local {
		if !assigned[id] && a.containers[id] == "" && !a.busy[id] {
			delete(a.local, id)
			delete(a.stopping, id)
			a.forgetHealth(id)
		}
	}
}

// spawn runs fn for a task in the background (Run waits for it before it
// returns); a.mu must be held. When fn is done, Run is asked to reconcile
// again: a change the task's worker made the loop skip must not wait for
// the next commit or resync.
func (a *Agent) spawn(ctx context.Context, taskID string, fn func(context.Context)) {
	a.busy[taskID] = true
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			delete(a.busy, taskID)
			a.mu.Unlock()
			select {
			case a.kick <- struct{}{}:
			default: // a reconcile is already due
			}
		}()
		fn(ctx)
	}()
}

func (a *Agent) start(ctx context.Context, t *types.Task) {
	if a.Networks != nil {
		if err := a.Networks.Attach(ctx, t); err != nil {
			if ctx.Err() == nil {
				a.report(t, types.TaskStatus{State: types.TaskRejected, Message: "preparing", Err: a.onNode(err)})
			}
			return
		}
	}
	a.report(t, types.TaskStatus{State: types.TaskAccepted, Message: "accepted"})
	a.report(t, types.TaskStatus{State: types.TaskPreparing, Message: "preparing"})
	if err := a.Exec.Prepare(ctx, t); err != nil {
		a.report(t, types.TaskStatus{State: types.TaskRejected, Message: "preparing", Err: a.onNode(err)})
		return
	}
	a.mu.Lock()
	cid := a.containers[t.ID]
	a.mu.Unlock()
	if cid == "" {
		var err error
		if cid, err = a.Exec.Create(ctx, t); err != nil {
			a.report(t, failed("creating container", err))
			return
		}
		a.mu.Lock()
		a.containers[t.ID] = cid
		a.mu.Unlock()
	}
	a.report(t, types.TaskStatus{State: types.TaskStarting, Message: "starting", ContainerID: cid})
	c, err := a.Exec.Start(ctx, cid)
	if err != nil {
		a.report(t, failed("starting container", err))
		return
	}
	if a.started(t, cid, c) {
		return
	}
	// Unhealthy already: stop it here, as reconcile would.
	a.stop(ctx, t)
}

func (a *Agent) stop(ctx context.Context, t *types.Task) {
	a.mu.Lock()
	serving := a.local[t.ID] == types.TaskRunning && len(t.Networks) > 0
	a.mu.Unlock()
	if serving && a.Drained != nil {
		a.Drained(ctx)
	}
	if serving && a.Drain > 0 {
		timer := time.NewTimer(a.Drain)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
	}
	a.stopContainer(ctx, t)
}

// stopContainer stops a task's container and then reports the task
// SHUTDOWN: only then, as its addresses are free for others once it has
// stopped (store.HoldsAddrs), and the container holds them until then.
// (A task found unhealthy is reported FAILED first, so that the mesh
// drops it at once; the allocator gives addresses serially, so its
// address is not given again while its container stops.)
func (a *Agent) stopContainer(ctx context.Context, t *types.Task) {
	a.mu.Lock()
	a.stopping[t.ID] = true
	delete(a.waiting, t.ID)
	cid := a.containers[t.ID]
	a.mu.Unlock()
	if cid != "" {
		grace := t.Spec.StopGracePeriod
		if err := a.Exec.Stop(ctx, cid, grace); err != nil {
			a.Log.Warn("agent: stop failed", "task", t.ID, "err", err)
		}
	}
	a.report(t, types.TaskStatus{State: types.TaskShutdown, Message: "shutdown"})
	if t.DesiredState == types.TaskRemove {
		a.removeContainer(ctx, t.ID)
	}
}

func (a *Agent) removeContainer(ctx context.Context, taskID string) {
	a.mu.Lock()
	a.stopping[taskID] = true
	cid := a.containers[taskID]
	a.mu.Unlock()
	if cid == "" {
		return
	}
	if err := a.Exec.Remove(ctx, cid); err != nil {
		a.Log.Warn("agent: remove failed; retrying", "task", taskID, "container", cid, "err", err)
		// The next reconcile retries: keep the task busy a while first, so
		// that an engine refusing removals is not asked again at once.
		_ = retryEvery(time.Second).Wait(ctx)
		return
	}
	a.mu.Lock()
	delete(a.containers, taskID)
	a.mu.Unlock()
}

// exitLoop turns container deaths into task states, reconnecting to the
// engine's event stream when it breaks.
func (a *Agent) exitLoop(ctx context.Context) {
	reconnect := retryEvery(time.Second)
	for ctx.Err() == nil {
		exits, errs := a.Exec.Exits(ctx)
		for e := range exits {
			a.onExit(e.TaskID, e.ExitCode)
		}
		select {
		case err := <-errs:
			if err != nil && !errors.Is(err, context.Canceled) {
				a.Log.Warn("agent: engine events broke; reconnecting", "err", err)
			}
		default:
		}
		_ = reconnect.Wait(ctx)
	}
}

func (a *Agent) onExit(taskID string, code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopping[taskID] {
		return
	}
	st, ok := a.local[taskID]
	if !ok || st < types.TaskStarting {
		return // unknown here: adopt/resync decides from the container itself
	}
	delete(a.waiting, taskID)
	a.reportLocked(taskID, st, exitStatus(code))
}

// adopt learns the containers already on the engine (after a restart of
// this daemon) and settles the tasks whose containers died meanwhile.
func (a *Agent) adopt(ctx context.Context, tasks []*types.Task) error {
	cs, err := a.Exec.List(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	for _, c := range cs {
		if c.TaskID != "" {
			a.containers[c.TaskID] = c.ID
		}
	}
	// What the store holds for an adopted task is what this node reported
	// before the restart: take it as reported, so that onExit knows the task
	// and turns its container's death into a state at once.
	for _, t := range tasks {
		if _, ok := a.local[t.ID]; !ok && a.containers[t.ID] != "" {
			a.local[t.ID] = t.Status.State
		}
	}
	a.mu.Unlock()
	a.resync(ctx, tasks)
	return nil
}

// resync checks every task this node should be running, or is waiting
// for the health check of, against its container, catching exits and
// health changes whose events were missed.
func (a *Agent) resync(ctx context.Context, tasks []*types.Task) {
	for _, t := range tasks {
		a.mu.Lock()
		cid, busy, st := a.containers[t.ID], a.busy[t.ID], a.state(t)
		_, waiting := a.waiting[t.ID]
		a.mu.Unlock()
		if busy || t.DesiredState != types.TaskRunning || (st != types.TaskRunning && !waiting) {
			continue
		}
		if cid == "" {
			a.report(t, failed("container gone", errors.New("task: container is missing")))
			continue
		}
		c, err := a.Exec.Inspect(ctx, cid)
		switch {
		case errors.Is(err, executor.ErrContainerGone):
			a.report(t, failed("container gone", err))
		case err != nil: // the engine may be briefly unreachable: decide later
			a.Log.Warn("agent: cannot inspect container", "task", t.ID, "err", err)
		case !c.Running:
			a.report(t, exitStatus(c.ExitCode))
		case c.Health == executor.HealthHealthy || c.Health == executor.HealthUnhealthy:
			a.mu.Lock()
			if !a.busy[t.ID] && !a.stopping[t.ID] {
				a.healthChangedLocked(t.ID, c.Health)
			}
			a.mu.Unlock()
		}
	}
}
