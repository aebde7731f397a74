package orchestrator_test

import (
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

func job(name string, mode types.Mode, completions, concurrent uint64) types.ServiceSpec {
	return types.ServiceSpec{Name: name, Mode: mode, Replicas: completions, MaxConcurrent: concurrent,
		Container: types.ContainerSpec{Image: "batch:1"},
		Restart:   types.RestartPolicy{Condition: types.RestartOnFailure}}
}

// states counts a service's tasks by observed state.
func (s *sim) states(id string) map[types.TaskState]int {
	out := map[types.TaskState]int{}
	for _, t := range s.st.View().TasksOfService(id) {
		out[t.Status.State]++
	}
	return out
}

func TestSimReplicatedJob(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	s.complete = func(*types.Task) bool { return true }
	most := 0
	var id string
	s.check = func(v *store.ReadTx) {
		if id == "" {
			return
		}
		at := 0
		for _, tk := range v.TasksOfService(id) {
			if tk.Status.State >= types.TaskAssigned && !tk.Status.State.Terminal() {
				at++
			}
		}
		most = max(most, at)
	}
	id = s.createService(job("batch", types.ModeReplicatedJob, 5, 2))
	s.settle()
	if got := s.states(id); got[types.TaskComplete] != 5 || len(got) != 1 {
		t.Fatalf("after the job: %v, want 5 COMPLETE and nothing else", got)
	}
	if most != 2 {
		t.Errorf("at most %d tasks ran at once, want 2 (MaxConcurrent)", most)
	}
	// Nothing more happens: complete tasks are not restarted.
	if changed, _ := s.orchestrate(); changed {
		t.Error("the orchestrator changed a completed job")
	}

	// A change of spec runs the job again.
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "batch:2" })
	s.settle()
	done := 0
	for _, tk := range s.st.View().TasksOfService(id) {
		if tk.SpecVersion == 2 && tk.Status.State == types.TaskComplete {
			done++
		}
	}
	if done != 5 {
		t.Errorf("%d completions of the new spec, want 5", done)
	}
}

func TestSimJobRestartsOnFailureOnly(t *testing.T) {
	s := newSim(t, "n1")
	failed := map[uint64]bool{}
	s.fail = func(tk *types.Task) bool {
		if tk.Slot == 2 && !failed[tk.Slot] {
			failed[tk.Slot] = true
			return true
		}
		return false
	}
	s.complete = func(*types.Task) bool { return true }
	id := s.createService(job("batch", types.ModeReplicatedJob, 3, 3))
	s.settle()
	if got := s.states(id); got[types.TaskComplete] != 3 || got[types.TaskFailed] != 1 {
		t.Fatalf("states %v, want 3 COMPLETE and the 1 FAILED that was restarted", got)
	}
}

func TestSimGlobalJob(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	s.complete = func(*types.Task) bool { return true }
	id := s.createService(job("once", types.ModeGlobalJob, 0, 0))
	s.settle()
	perNode := map[string]int{}
	for _, tk := range s.st.View().TasksOfService(id) {
		if tk.Status.State != types.TaskComplete {
			t.Errorf("task %s %v, want COMPLETE", tk.ID, tk.Status.State)
		}
		perNode[tk.NodeID]++
	}
	if len(perNode) != 3 || perNode["n1"] != 1 || perNode["n2"] != 1 || perNode["n3"] != 1 {
		t.Errorf("per node %v, want one each", perNode)
	}
}
