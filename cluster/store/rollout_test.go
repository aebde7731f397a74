package store

import (
	"errors"
	"testing"

	"sw/cluster/types"
)

// update applies f to the stored service s1; bump asks for new tasks.
func (h *harness) update(bump bool, f func(*types.ServiceSpec)) *types.Service {
	h.t.Helper()
	cur := *h.st.View().Service("s1")
	f(&cur.Spec)
	if bump {
		cur.SpecVersion++
	}
	h.must(Change{UpdateService: &cur})
	return h.st.View().Service("s1")
}

func image(img string) func(*types.ServiceSpec) {
	return func(s *types.ServiceSpec) { s.Container.Image = img }
}

func TestRolloutVersionsAndStatus(t *testing.T) {
	h := newHarness(t)
	h.must(Change{CreateService: svc("s1", "web")})
	if s := h.st.View().Service("s1"); s.UpdateStatus != nil || s.SpecVersion != 1 {
		t.Fatalf("a new service: %+v", s)
	}

	// A change that calls for new tasks starts a rollout.
	s := h.update(true, image("nginx:2"))
	if s.SpecVersion != 2 || s.PreviousSpecVersion != 1 || s.PreviousSpec.Container.Image != "nginx" ||
		s.UpdateStatus == nil || s.UpdateStatus.State != types.UpdateUpdating || !s.UpdateStatus.StartedAt.Equal(h.now) {
		t.Fatalf("after the update: v%d prev v%d %+v", s.SpecVersion, s.PreviousSpecVersion, s.UpdateStatus)
	}

	// The orchestrator's status is dropped once the spec has moved on.
	h.must(Change{UpdateStatus: &ServiceUpdateStatus{ServiceID: "s1", SpecVersion: 1,
		Status: types.UpdateStatus{State: types.UpdateCompleted}}})
	if st := h.st.View().Service("s1").UpdateStatus.State; st != types.UpdateUpdating {
		t.Fatalf("a stale status was applied: %s", st)
	}
	version := h.st.View().Service("s1").Version
	h.must(Change{UpdateStatus: &ServiceUpdateStatus{ServiceID: "s1", SpecVersion: 2,
		Status: types.UpdateStatus{State: types.UpdatePaused, Message: "paused"}}})
	s = h.st.View().Service("s1")
	if s.UpdateStatus.State != types.UpdatePaused || s.Version != version {
		t.Fatalf("status %+v, version %d (was %d: a status is not the user's change)", s.UpdateStatus, s.Version, version)
	}

	// An update with no change resumes, and keeps the previous spec.
	s = h.update(false, func(*types.ServiceSpec) {})
	if s.UpdateStatus.State != types.UpdateUpdating || s.PreviousSpec.Container.Image != "nginx" || s.SpecVersion != 2 {
		t.Fatalf("after the resume: v%d, previous %s, %+v", s.SpecVersion, s.PreviousSpec.Container.Image, s.UpdateStatus)
	}

	// The orchestrator's rollback about an older version is dropped; the
	// current one goes back to version 1, keeping the top version.
	h.must(Change{RollbackService: &ServiceRollback{ServiceID: "s1", FromSpecVersion: 1, Message: "stale"}})
	if s := h.st.View().Service("s1"); s.SpecVersion != 2 {
		t.Fatalf("a stale rollback was applied: v%d", s.SpecVersion)
	}
	h.must(Change{RollbackService: &ServiceRollback{ServiceID: "s1", FromSpecVersion: 2, Message: "update rolled back"}})
	s = h.st.View().Service("s1")
	if s.Spec.Container.Image != "nginx" || s.SpecVersion != 1 || s.PreviousSpec.Container.Image != "nginx:2" ||
		s.PreviousSpecVersion != 2 || s.UpdateStatus.State != types.UpdateRollbackStarted || s.UpdateStatus.Message != "update rolled back" {
		t.Fatalf("after the rollback: %s v%d, prev %s v%d, %+v", s.Spec.Container.Image, s.SpecVersion,
			s.PreviousSpec.Container.Image, s.PreviousSpecVersion, s.UpdateStatus)
	}

	// The next change gets a version no spec had before.
	if s := h.update(true, image("nginx:3")); s.SpecVersion != 3 {
		t.Fatalf("the update after a rollback got v%d, want 3", s.SpecVersion)
	}

	// A user's rollback checks the version; a stale one changes nothing.
	cur := h.st.View().Service("s1")
	if err := h.try(Change{RollbackService: &ServiceRollback{ServiceID: "s1", Version: cur.Version - 1}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a stale rollback: %v, want ErrConflict", err)
	}
	h.must(Change{RollbackService: &ServiceRollback{ServiceID: "s1", Version: cur.Version, Message: "manually requested rollback"}})
	if s := h.st.View().Service("s1"); s.SpecVersion != 1 || s.Spec.Container.Image != "nginx" {
		t.Fatalf("the manual rollback: %s v%d", s.Spec.Container.Image, s.SpecVersion)
	}
}

func TestRollbackWithoutPreviousSpec(t *testing.T) {
	h := newHarness(t)
	h.must(Change{CreateService: svc("s1", "web")})
	err := h.try(Change{RollbackService: &ServiceRollback{ServiceID: "s1", Message: "x"}})
	if !errors.Is(err, ErrNoPrevious) || err.Error() != "service web has no previous spec to roll back to" {
		t.Fatalf("rollback with no previous spec: %v", err)
	}
	if s := h.st.View().Service("s1"); s.UpdateStatus != nil {
		t.Fatalf("the refused rollback left a status: %+v", s.UpdateStatus)
	}
}

func TestTaskRunningAndEndedTimes(t *testing.T) {
	h := newHarness(t)
	h.must(Change{CreateService: svc("s1", "web")}, Change{PutNode: node("n1", "h1")})
	h.must(Change{CreateTask: newTask("t1", "s1", "")})
	h.must(Change{AssignTask: &TaskAssignment{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}})
	h.must(status("t1", "n1", types.TaskStarting))
	if tk := h.task("t1"); !tk.RunningAt.IsZero() || !tk.EndedAt.IsZero() {
		t.Fatalf("starting: %v %v", tk.RunningAt, tk.EndedAt)
	}
	h.must(status("t1", "n1", types.TaskRunning))
	ran := h.now
	h.must(status("t1", "n1", types.TaskFailed))
	if tk := h.task("t1"); !tk.RunningAt.Equal(ran) || !tk.EndedAt.Equal(h.now) {
		t.Fatalf("RunningAt %v (want %v), EndedAt %v (want %v)", tk.RunningAt, ran, tk.EndedAt, h.now)
	}
}
