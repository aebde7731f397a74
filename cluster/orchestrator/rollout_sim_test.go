package orchestrator_test

import (
	"strings"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// serving counts a service's slots with a RUNNING task meant to run.
func serving(v *store.ReadTx, svcID string) int {
	slots := map[string]bool{}
	for _, t := range v.TasksOfService(svcID) {
		if t.DesiredState <= types.TaskRunning && t.Status.State == types.TaskRunning {
			slots[t.SlotKey()] = true
		}
	}
	return len(slots)
}

func withUpdate(spec types.ServiceSpec, mod func(*types.UpdateConfig)) types.ServiceSpec {
	u := types.DefaultUpdateConfig()
	mod(&u)
	spec.Update = &u
	rb := types.DefaultUpdateConfig()
	spec.Rollback = &rb
	return spec
}

func (s *sim) status(id string) types.UpdateStatus {
	st := s.st.View().Service(id).UpdateStatus
	if st == nil {
		s.t.Fatalf("service %s has no update status", id)
	}
	return *st
}

func TestSimRolloutParallelism(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	spec := withUpdate(replicated("web", 6), func(u *types.UpdateConfig) { u.Parallelism = 2 })
	id := s.createService(spec)
	s.settle()
	low := 6
	s.check = func(v *store.ReadTx) { low = min(low, serving(v, id)) }
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:2" })
	if st := s.status(id); st.State != types.UpdateUpdating || st.Message != "update in progress" {
		t.Fatalf("status at the update: %+v", st)
	}
	took := s.settle()
	s.expectRunning(id, slotKeys(6), 2)
	if low != 4 {
		t.Errorf("at least %d of 6 slots served during the update, want 4 (replicas - parallelism)", low)
	}
	st := s.status(id)
	if st.State != types.UpdateCompleted || st.CompletedAt == nil || st.Message != "update completed" {
		t.Errorf("status after: %+v", st)
	}
	// The agents start tasks at once: what took clock time was the
	// monitor window after the last batch.
	if took != 5*time.Second {
		t.Errorf("the update took %v of clock, want the 5s monitor window", took)
	}
}

func TestSimRolloutStartFirstKeepsEverySlotServing(t *testing.T) {
	s := newSim(t, "n1", "n2")
	spec := withUpdate(replicated("web", 4), func(u *types.UpdateConfig) { u.Order = types.OrderStartFirst; u.Parallelism = 2 })
	id := s.createService(spec)
	s.settle()
	s.slowStop = true
	low, most := 4, 0
	s.check = func(v *store.ReadTx) {
		low = min(low, serving(v, id))
		placed := 0
		for _, t := range v.TasksOfService(id) {
			if t.Status.State >= types.TaskAssigned && !t.Status.State.Terminal() {
				placed++
			}
		}
		most = max(most, placed)
	}
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:2" })
	s.settle()
	s.expectRunning(id, slotKeys(4), 2)
	if low != 4 {
		t.Errorf("only %d of 4 slots served at one point of a start-first update", low)
	}
	// Beside the 4 serving: up to 2 successors starting, and up to 2
	// old tasks still stopping (a stop takes a round here; the next batch
	// does not wait for it, as Docker's does not).
	if most < 5 || most > 8 {
		t.Errorf("at most %d tasks were placed at once, want 5 to 8", most)
	}
}

func TestSimRolloutFailureRollsBack(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	spec := withUpdate(replicated("web", 3), func(u *types.UpdateConfig) { u.FailureAction = types.FailureRollback })
	id := s.createService(spec)
	s.settle()
	s.fail = func(t *types.Task) bool { return t.Spec.Image == "nginx:broken" }
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:broken" })
	s.settle()
	svc := s.st.View().Service(id)
	if svc.Spec.Container.Image != "nginx:1" || svc.SpecVersion != 1 || svc.PreviousSpec.Container.Image != "nginx:broken" {
		t.Fatalf("after the failed update: image %s v%d, previous %s", svc.Spec.Container.Image, svc.SpecVersion, svc.PreviousSpec.Container.Image)
	}
	st := s.status(id)
	if st.State != types.UpdateRollbackCompleted ||
		!strings.HasPrefix(st.Message, "rollback completed: update rolled back due to failure or early termination of task ") {
		t.Errorf("status: %+v", st)
	}
	// The tasks of slots 2 and 3 were never replaced: they still run.
	s.expectRunning(id, slotKeys(3), 1)
	for _, k := range []string{"2", "3"} {
		if n := len(s.tasksOf(id)[k]); n != 1 {
			t.Errorf("slot %s has %d tasks, want its first one only", k, n)
		}
	}
	// The next change gets a version no spec had: not the failed one's 2.
	s.fail = nil
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:3" })
	if v := s.st.View().Service(id).SpecVersion; v != 3 {
		t.Fatalf("spec version after the next update %d, want 3", v)
	}
	s.settle()
	s.expectRunning(id, slotKeys(3), 3)
}

func TestSimRolloutPausesAndResumes(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	spec := withUpdate(replicated("web", 3), func(u *types.UpdateConfig) {})
	spec.Restart.MaxAttempts = 1
	id := s.createService(spec)
	s.settle()
	s.fail = func(t *types.Task) bool { return t.Spec.Image == "nginx:broken" }
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:broken" })
	s.settle()
	st := s.status(id)
	if st.State != types.UpdatePaused || !strings.HasPrefix(st.Message, "update paused due to failure or early termination of task ") {
		t.Fatalf("status: %+v", st)
	}
	if n := serving(s.st.View(), id); n != 2 {
		t.Errorf("%d slots serve while paused, want 2 (one slot was tried)", n)
	}
	// An update that changes no task resumes the rollout; it fails again.
	s.updateService(id, false, func(sp *types.ServiceSpec) { sp.Labels = map[string]string{"try": "2"} })
	if st := s.status(id); st.State != types.UpdateUpdating {
		t.Fatalf("status after the resume: %+v", st)
	}
	s.settle()
	if st := s.status(id); st.State != types.UpdatePaused {
		t.Fatalf("status after the second try: %+v", st)
	}
	// A fixed image completes.
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:2" })
	s.settle()
	s.expectRunning(id, slotKeys(3), 3)
	if st := s.status(id); st.State != types.UpdateCompleted {
		t.Errorf("status after the fix: %+v", st)
	}
}
