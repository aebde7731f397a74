package orchestrator

import (
	"fmt"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// rollout is one pass's view of a service's rolling update (or rollback):
// it replaces outdated slots a batch at a time under the service's update
// configuration, watches the new tasks for failures and takes the failure
// action, and says when the rollout is complete. Everything it knows is
// in the store — the service's UpdateStatus (when the rollout started,
// whether it is paused) and the tasks' own times (Task.RunningAt,
// EndedAt) — so a new leader carries on where the old one stopped.
//
// A slot being updated holds one of the Parallelism places from the moment
// its old task is told to stop (stop-first) or its new task is made
// (start-first) until the new task has run for Delay. Monitor is how long
// after it starts a new task that stops counts as a failure; the rollout
// is complete once no slot is outdated, none is held, and every new task
// has run for Monitor.
type rollout struct {
	r   *reconciler
	cfg types.UpdateConfig
	// state is the stored rollout state ("" when none was recorded).
	state types.UpdateState
	// started is when the rollout (or its resumption) began.
	started time.Time
	// held counts the slots holding a place; watching, whether a new task
	// is still within its monitor window.
	held     int
	watching bool
	// failed is the newest failure of a new task, failures their number.
	failed   *types.Task
	failures int
}

func (r *reconciler) newRollout(tasks []*types.Task) *rollout {
	ro := &rollout{r: r}
	if st := r.svc.UpdateStatus; st != nil {
		ro.state, ro.started = st.State, st.Started()
	}
	if ro.state.Rollback() {
		ro.cfg = r.svc.Spec.RollbackOrDefault()
	} else {
		ro.cfg = r.svc.Spec.UpdateOrDefault()
	}
	if !ro.state.Active() {
		return ro // failures count only while a recorded rollout runs
	}
	for _, t := range tasks {
		if ro.failedNew(t) {
			ro.failures++
			if ro.failed == nil || olderThan(ro.failed, t) {
				ro.failed = t
			}
		}
	}
	return ro
}

// failedNew reports whether t is a new task of this rollout that stopped
// unasked before it had run for the monitor window: it failed, was
// rejected, or exited while meant to run.
func (ro *rollout) failedNew(t *types.Task) bool {
	if t.SpecVersion != ro.r.svc.SpecVersion || t.EndedAt.Before(ro.started) || t.EndedAt.IsZero() {
		return false
	}
	switch t.Status.State {
	case types.TaskFailed, types.TaskRejected:
	case types.TaskComplete:
		if t.DesiredState > types.TaskRunning {
			return false
		}
	default:
		return false
	}
	return t.RunningAt.IsZero() || t.EndedAt.Sub(t.RunningAt) < ro.cfg.Monitor
}

// ofRollout reports whether a task was made by this rollout.
func (ro *rollout) ofRollout(t *types.Task) bool {
	return t.SpecVersion == ro.r.svc.SpecVersion && !t.CreatedAt.Before(ro.started)
}

// observe looks at one wanted slot after slotState dealt with it.
func (ro *rollout) observe(s *slot, st slotStatus) {
	cur := ro.r.svc.SpecVersion
	live := s.live()
	if live == nil || live.SpecVersion != cur {
		// A task of the current spec is on its way in: the outdated one
		// is stopping (stop-first) or its successor is being made (a
		// refill, or a restart onto the current spec).
		if st == slotStarting || (live == nil && st == slotWaiting && s.newest().SpecVersion != cur) {
			ro.held++
		}
		return
	}
	if !ro.ofRollout(live) {
		return
	}
	if live.Status.State < types.TaskRunning {
		ro.held++
		ro.watching = true
		return
	}
	if live.Status.State != types.TaskRunning || !ro.state.Active() {
		return // with no rollout recorded, no delay and no monitor
	}
	now := ro.r.in.Now
	if until := live.RunningAt.Add(ro.cfg.Delay); now.Before(until) {
		ro.held++
		ro.r.plan.wake(until)
	}
	if until := live.RunningAt.Add(ro.cfg.Monitor); now.Before(until) {
		ro.watching = true
		ro.r.plan.wake(until)
	}
}

// advance takes the failure action if the failures call for it, else
// starts the replacement of as many outdated slots as there are places
// free, else records the rollout complete.
func (ro *rollout) advance(outdated []*slot, slots int) {
	r := ro.r
	if ro.state.Paused() {
		return // until the user updates the service again
	}
	if ro.failures > 0 && float64(ro.failures) > ro.cfg.MaxFailureRatio*float64(slots) {
		switch ro.cfg.FailureAction {
		case types.FailureContinue:
		case types.FailureRollback:
			if !ro.state.Rollback() && r.svc.PreviousSpec != nil {
				r.plan.Rollbacks = append(r.plan.Rollbacks, store.ServiceRollback{ServiceID: r.svc.ID,
					FromSpecVersion: r.svc.SpecVersion,
					Message:         "update rolled back due to failure or early termination of task " + ro.failed.ID})
				return
			}
			ro.pause("; there is no previous spec to roll back to")
			return
		default:
			ro.pause("")
			return
		}
	}
	if len(outdated) > 0 {
		room := len(outdated)
		if p := ro.cfg.Parallelism; p > 0 {
			room = max(0, int(p)-ro.held)
		}
		for _, s := range outdated[:min(room, len(outdated))] {
			if !ro.replace(s) {
				break
			}
		}
		return
	}
	if ro.state.Active() && ro.held == 0 && !ro.watching {
		now := r.in.Now
		st := types.UpdateStatus{State: types.UpdateCompleted, StartedAt: r.svc.UpdateStatus.StartedAt,
			CompletedAt: &now, Message: "update completed"}
		if ro.state.Rollback() {
			// Docker's says "rollback completed" only; the reason stays, so
			// that whoever looks only now still learns why.
			st.State, st.Message = types.UpdateRollbackCompleted, "rollback completed"
			if why := r.svc.UpdateStatus.Message; why != "" {
				st.Message += ": " + why
			}
		}
		r.plan.Statuses = append(r.plan.Statuses, store.ServiceUpdateStatus{ServiceID: r.svc.ID,
			SpecVersion: r.svc.SpecVersion, Status: st})
	}
}

// pause records the rollout paused on the newest failure.
func (ro *rollout) pause(why string) {
	r := ro.r
	st := types.UpdateStatus{State: types.UpdatePaused, StartedAt: r.svc.UpdateStatus.StartedAt,
		Message: fmt.Sprintf("update paused due to failure or early termination of task %s%s", ro.failed.ID, why)}
	if ro.state.Rollback() {
		st.State = types.UpdateRollbackPaused
		st.Message = "rollback paused due to failure or early termination of task " + ro.failed.ID
	}
	r.plan.Statuses = append(r.plan.Statuses, store.ServiceUpdateStatus{ServiceID: r.svc.ID,
		SpecVersion: r.svc.SpecVersion, Status: st})
}

// replace starts replacing an outdated slot's task, in the configured
// order; false when this pass may make no more tasks.
func (ro *rollout) replace(s *slot) bool {
	r, live := ro.r, s.live()
	if ro.cfg.Order != types.OrderStartFirst {
		r.plan.desire(live, types.TaskShutdown) // the successor follows once it stopped (refill)
		return true
	}
	if !r.canCreate() {
		return false
	}
	// The old task serves until its successor runs (settleSiblings).
	r.plan.Create = append(r.plan.Create, r.newTask(live.Slot, nodeOfSlot(live), live.Attempt))
	return true
}
