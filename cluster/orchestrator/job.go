package orchestrator

import "sw/cluster/types"

// job reconciles a job's slots (Docker's replicated-job and global-job
// modes): each slot runs its task to completion, once; a task that
// completed is not restarted, one that failed is, under the restart
// policy; a replicated job runs at most MaxConcurrent slots at a time, in
// slot order, until Replicas slots have completed. A change of spec runs
// the job again: tasks of an older spec are stopped, and every slot runs
// anew (there is no rolling update of a job, as in Docker).
func (r *reconciler) job(slots []*slot, wanted map[slotID]wantedSpot) {
	cur := r.svc.SpecVersion
	active := 0
	var todo []wantedSpot
	r.eachWanted(slots, wanted, func(s *slot) {
		if live := s.live(); live != nil {
			switch st := r.slotState(s); {
			case st == slotOutdated:
				r.plan.desire(live, types.TaskShutdown) // run again on the new spec
				active++
			case st != slotSteady || !live.Status.State.Terminal():
				active++ // running, starting, or about to restart
			}
		} else if last := s.newest(); r.stopping(last) {
			active++ // told to stop, not yet stopped
		} else if last.SpecVersion != cur || r.restartable(s, last) {
			attempt := uint64(0)
			if last.SpecVersion == cur {
				attempt = last.Attempt
			}
			todo = append(todo, wantedSpot{slot: last.Slot, nodeID: nodeOfSlot(last), attempt: attempt})
		}
	})
	todo = append(todo, sortedWanted(wanted)...) // slots never run
	room := len(todo)
	if r.svc.Spec.Mode == types.ModeReplicatedJob {
		room = max(0, int(r.svc.Spec.MaxConcurrent)-active)
	}
	for _, w := range todo[:min(room, len(todo))] {
		if !r.canCreate() {
			return
		}
		r.plan.Create = append(r.plan.Create, r.newTask(w.slot, w.nodeID, w.attempt))
	}
}
