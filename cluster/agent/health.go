package agent

import (
	"context"
	"errors"
	"time"

	"sw/cluster/executor"
	"sw/cluster/types"
)

// started settles a task whose container has just started: RUNNING at once
// without a health check; with one, RUNNING once healthy (now, or when the
// engine says so: the task then waits, STARTING). It returns false when the
// container is unhealthy already: the task is FAILED and the caller must
// stop the container.
func (a *Agent) started(t *types.Task, cid string, c executor.Container) bool {
	running := types.TaskStatus{State: types.TaskRunning, Message: "started", ContainerID: cid, Addr: c.Addr}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !executor.HasHealthcheck(c.Health) {
		a.reportLocked(t.ID, t.Status.State, running)
		return true
	}
	// An event taken while this worker was busy is newer than the state
	// Start saw, or as new.
	status := c.Health
	if h, ok := a.health[t.ID]; ok {
		status = h
	}
	switch status {
	case executor.HealthHealthy:
		a.reportLocked(t.ID, t.Status.State, running)
	case executor.HealthUnhealthy:
		a.reportLocked(t.ID, t.Status.State, unhealthyStatus())
		return false
	default:
		a.waiting[t.ID] = running
	}
	return true
}

// healthLoop turns health changes into task states, reconnecting to the
// engine's event stream when it breaks.
func (a *Agent) healthLoop(ctx context.Context) {
	reconnect := retryEvery(time.Second)
	for ctx.Err() == nil {
		changes, errs := a.Exec.HealthChanges(ctx)
		for hc := range changes {
			a.onHealth(hc.TaskID, hc.Status)
		}
		select {
		case err := <-errs:
			if err != nil && !errors.Is(err, context.Canceled) {
				a.Log.Warn("agent: engine health events broke; reconnecting", "err", err)
			}
		default:
		}
		_ = reconnect.Wait(ctx)
	}
}

func (a *Agent) onHealth(taskID, status string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if taskID == "" || a.stopping[taskID] {
		return
	}
	if st, ok := a.local[taskID]; !ok || st < types.TaskStarting {
		return // unknown here, or not started: start() inspects the container
	}
	a.health[taskID] = status
	if a.busy[taskID] {
		return // its worker reads a.health when done starting
	}
	a.healthChangedLocked(taskID, status)
}

// healthChangedLocked acts on a health status of a started task that no
// worker is busy with; a.mu must be held. Healthy: a waiting task becomes
// RUNNING. Unhealthy: the task FAILS, and reconcile stops its container.
func (a *Agent) healthChangedLocked(taskID, status string) {
	st := a.local[taskID]
	switch status {
	case executor.HealthHealthy:
		if running, ok := a.waiting[taskID]; ok {
			delete(a.waiting, taskID)
			a.reportLocked(taskID, st, running)
		}
	case executor.HealthUnhealthy:
		if st.Terminal() {
			return
		}
		delete(a.waiting, taskID)
		a.reportLocked(taskID, st, unhealthyStatus())
		a.unhealthy[taskID] = true
		select {
		case a.kick <- struct{}{}:
		default: // a reconcile is already due
		}
	}
}

// forgetHealth drops what is known of a forgotten task's health.
func (a *Agent) forgetHealth(taskID string) {
	delete(a.waiting, taskID)
	delete(a.health, taskID)
	delete(a.unhealthy, taskID)
}
