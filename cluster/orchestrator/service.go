package orchestrator

import (
	"sort"

	"sw/cluster/types"
)

// service reconciles one service's slots.
func (r *reconciler) service(tasks []*types.Task) {
	slots := groupSlots(tasks)
	wanted := r.wantedSlots(slots)
	if r.svc.Spec.Mode.Job() {
		r.job(slots, wanted)
		return
	}
	ro := r.newRollout(tasks)
	var outdated []*slot
	r.eachWanted(slots, wanted, func(s *slot) {
		st := r.slotState(s)
		if st == slotOutdated {
			outdated = append(outdated, s)
		}
		ro.observe(s, st)
	})
	for _, w := range sortedWanted(wanted) { // slots with no task at all
		if !r.canCreate() {
			break // the rest at the next pass
		}
		r.plan.Create = append(r.plan.Create, r.newTask(w.slot, w.nodeID, 0))
	}
	ro.advance(outdated, len(slots))
}

// eachWanted runs f on every slot that is still wanted and may change,
// then trims its history; a slot no longer wanted is retired, and one on a
// paused node only trimmed. The wanted slots seen are taken out of wanted:
// what is left there has no task at all.
func (r *reconciler) eachWanted(slots []*slot, wanted map[slotID]wantedSpot, f func(*slot)) {
	for _, s := range slots {
		want, ok := wanted[s.key]
		if !ok {
			r.retire(s)
			continue
		}
		delete(wanted, s.key)
		if !want.keepOnly {
			// (A paused node keeps what it runs, as it is: no restart, no
			// update, nothing new until it is active again.)
			f(s)
		}
		r.trimHistory(s)
	}
}

// canCreate reports whether this pass may make another task for the
// service (MaxCreatesPerService); the count covers every kind of create.
func (r *reconciler) canCreate() bool { return r.created < MaxCreatesPerService }

// wantedSpot names a slot that should exist: a replica number, or a node.
type wantedSpot struct {
	slot   uint64
	nodeID string
	// keepOnly: the slot keeps its live task but gets no new one.
	keepOnly bool
	// attempt is the restart count of the slot's next task (jobs).
	attempt uint64
}

func (r *reconciler) wantedSlots(slots []*slot) map[slotID]wantedSpot {
	if r.svc.Spec.Mode.PerNode() {
		want := make(map[slotID]wantedSpot, len(r.in.Nodes))
		live := make(map[slotID]bool, len(slots))
		for _, s := range slots {
			if s.live() != nil {
				live[s.key] = true
			}
		}
		for _, n := range r.in.Nodes {
			k := slotID{node: n.ID}
			switch {
			case !r.fits(n):
				// Fails the placement: no task here; one it runs goes.
			case n.Schedulable():
				want[k] = wantedSpot{nodeID: n.ID}
			case live[k] && n.Availability != types.AvailabilityDrain && n.State != types.NodeDown:
				// Paused (or not yet known to be ready): keep the task it
				// has, start none.
				want[k] = wantedSpot{nodeID: n.ID, keepOnly: true}
			}
		}
		return want
	}
	want := make(map[slotID]wantedSpot, r.svc.Spec.Replicas)
	for i := uint64(1); i <= r.svc.Spec.Replicas; i++ {
		want[slotID{num: i}] = wantedSpot{slot: i}
	}
	return want
}

func sortedWanted(m map[slotID]wantedSpot) []wantedSpot {
	out := make([]wantedSpot, 0, len(m))
	for _, w := range m {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].slot != out[j].slot {
			return out[i].slot < out[j].slot
		}
		return out[i].nodeID < out[j].nodeID
	})
	return out
}

// retire removes a slot that is no longer wanted (scaled down, node
// drained): every task is told to go, and deleted once stopped.
func (r *reconciler) retire(s *slot) {
	for _, t := range s.tasks {
		r.plan.desire(t, types.TaskRemove)
		if stopped(t, r.nodes) {
			r.plan.Delete = append(r.plan.Delete, t.ID)
		}
	}
}

type slotStatus int

const (
	slotSteady slotStatus = iota
	slotStarting
	slotOutdated
	slotWaiting
)

// slotState handles a wanted slot: restarts a stopped task, replaces a
// missing one or one on a lost or drained node, and says whether the slot
// is current, starting, waiting or outdated.
func (r *reconciler) slotState(s *slot) slotStatus {
	live := s.live()
	if live == nil {
		return r.refill(s)
	}
	live = r.settleSiblings(s, live)
	if live.Status.State.Terminal() {
		return r.restart(s, live)
	}
	if live.Slot != 0 && live.NodeID != "" {
		if nodeLost(live, r.nodes) {
			if !r.canCreate() {
				return slotWaiting // at the next pass
			}
			// Its node cannot stop it: replace it now, on another node,
			// and have the node remove it if it ever comes back.
			r.plan.replaceAs(live, r.newTask(live.Slot, "", live.Attempt), types.TaskRemove)
			return slotStarting
		}
		n := r.nodes[live.NodeID]
		if n.Availability == types.AvailabilityDrain {
			r.plan.desire(live, types.TaskShutdown) // stop first; refill follows
			return slotWaiting
		}
		if live.SpecVersion == r.svc.SpecVersion && !r.fits(n) {
			// Its node no longer meets the placement (a label or the
			// role changed): stop first, then place anew.
			r.plan.desire(live, types.TaskShutdown)
			return slotWaiting
		}
	}
	if live.SpecVersion != r.svc.SpecVersion {
		// Older, or newer after a rollback.
		return slotOutdated
	}
	if live.Status.State < types.TaskRunning {
		return slotStarting
	}
	return slotSteady
}

// refill gives a task to a slot whose tasks were all told to stop: once
// the last one has stopped, unless it finished for good under the policy.
func (r *reconciler) refill(s *slot) slotStatus {
	last := s.newest()
	if r.stopping(last) {
		return slotWaiting // stop first, then start the replacement
	}
	if last.Status.State.Terminal() && !r.restartable(s, last) && last.SpecVersion == r.svc.SpecVersion {
		return slotSteady // finished: the restart policy says it stays down
	}
	if !r.canCreate() {
		return slotWaiting
	}
	r.plan.Create = append(r.plan.Create, r.newTask(last.Slot, nodeOfSlot(last), last.Attempt))
	return slotStarting
}

// stopping reports whether a task was placed and has not yet stopped, on
// a node still able to stop it.
func (r *reconciler) stopping(t *types.Task) bool {
	return t.NodeID != "" && t.Status.State >= types.TaskAssigned && !t.Status.State.Terminal() &&
		!nodeLost(t, r.nodes)
}

func nodeOfSlot(t *types.Task) string {
	if t.Slot == 0 {
		return t.NodeID
	}
	return ""
}

// restart replaces a stopped live task after the restart delay, or retires
// it for good when the policy says so.
func (r *reconciler) restart(s *slot, live *types.Task) slotStatus {
	if !r.restartable(s, live) {
		r.plan.desire(live, types.TaskShutdown)
		return slotSteady
	}
	due := live.Status.Timestamp.Add(r.svc.Spec.Restart.Delay)
	if r.in.Now.Before(due) {
		r.plan.wake(due)
		return slotWaiting
	}
	if !r.canCreate() {
		return slotWaiting
	}
	r.plan.replace(live, r.newTask(live.Slot, nodeOfSlot(live), live.Attempt+1))
	return slotStarting
}

func (r *reconciler) restartable(s *slot, t *types.Task) bool {
	if r.svc.Spec.Mode.Job() && t.Status.State == types.TaskComplete {
		return false // a job's task that completed is done, whatever the policy
	}
	pol := r.svc.Spec.Restart
	switch {
	case pol.MaxAttempts == 0:
	case pol.Window > 0:
		// Restarts count within the window only: the slot's tasks that
		// ended in it, t among them, are the restarts made so far plus one.
		since, ended := r.in.Now.Add(-pol.Window), 0
		for _, o := range s.tasks {
			if !o.EndedAt.IsZero() && !o.EndedAt.Before(since) {
				ended++
			}
		}
		if uint64(ended) > pol.MaxAttempts {
			return false
		}
	case t.Attempt >= pol.MaxAttempts:
		return false
	}
	switch pol.Condition {
	case types.RestartNone:
		return false
	case types.RestartOnFailure:
		return t.Status.State != types.TaskComplete
	}
	return true
}

// settleSiblings handles a slot with more than one task meant to run,
// which a start-first replacement makes (the old task serves until its
// successor runs), and returns the slot's live task. Once the newest
// runs, the older ones are stopped. After a rollback, an older task that
// runs the spec gone back to is kept and the newer, rolled-back one goes.
func (r *reconciler) settleSiblings(s *slot, live *types.Task) *types.Task {
	var dropped *types.Task
	if live.SpecVersion != r.svc.SpecVersion {
		for i := len(s.tasks) - 1; i >= 0; i-- {
			t := s.tasks[i]
			if t != live && t.DesiredState <= types.TaskRunning && t.SpecVersion == r.svc.SpecVersion && !t.Status.State.Terminal() {
				r.plan.desire(live, types.TaskShutdown)
				dropped, live = live, t
				break
			}
		}
	}
	if live.Status.State != types.TaskRunning {
		return live
	}
	for _, t := range s.tasks {
		if t != live && t != dropped && t.DesiredState <= types.TaskRunning {
			r.plan.desire(t, types.TaskShutdown)
		}
	}
	return live
}

// trimHistory deletes a slot's oldest stopped tasks beyond the limit.
func (r *reconciler) trimHistory(s *slot) {
	excess := len(s.tasks) - r.in.HistoryLimit
	for _, t := range s.tasks {
		if excess <= 0 {
			return
		}
		if t.DesiredState > types.TaskRunning && stopped(t, r.nodes) {
			r.plan.Delete = append(r.plan.Delete, t.ID)
			excess--
		}
	}
}

func (r *reconciler) newTask(slotNum uint64, nodeID string, attempt uint64) *types.Task {
	r.created++
	spec := r.svc.Spec
	return &types.Task{
		ID:           r.in.NewID(),
		ServiceID:    r.svc.ID,
		ServiceName:  spec.Name,
		Slot:         slotNum,
		NodeID:       nodeID,
		SpecVersion:  r.svc.SpecVersion,
		Spec:         spec.Container,
		Ports:        spec.Ports,
		Placement:    spec.Placement,
		DesiredState: types.TaskRunning,
		Status:       types.TaskStatus{State: types.TaskNew, Timestamp: r.in.Now, Message: "created"},
		Attempt:      attempt,
		Networks:     r.attachments(),
	}
}

// attachments are a new task's networks, without addresses yet.
func (r *reconciler) attachments() []types.Attachment {
	var out []types.Attachment
	for _, id := range types.ServiceNetworks(&r.svc.Spec, r.in.DefaultNetwork) {
		out = append(out, types.Attachment{NetworkID: id})
	}
	return out
}
