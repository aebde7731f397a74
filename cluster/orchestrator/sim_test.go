package orchestrator_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"sw/cluster/orchestrator"
	"sw/cluster/scheduler"
	"sw/cluster/store"
	"sw/cluster/types"
)

// sim drives the orchestrator, the scheduler and a fake agent per node over
// one in-memory store, with an injected clock: no goroutines, no sleeps.
type sim struct {
	t     *testing.T
	st    *store.Store
	local *store.Local
	now   time.Time
	ids   int
	// fail decides, as the agent starts a task, whether it fails instead.
	fail func(t *types.Task) bool
	// complete decides whether a running task exits 0 (a job's task).
	complete func(t *types.Task) bool
	// check runs after every commit.
	check func(v *store.ReadTx)
	// slowStop: a task told to stop stops one round later, as a container
	// takes its grace period.
	slowStop bool
	asked    map[string]bool
	steps    int
}

var simStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newSim(t *testing.T, nodes ...string) *sim {
	s := &sim{t: t, st: store.New(), now: simStart}
	s.local = &store.Local{Store: s.st, Now: func() time.Time { return s.now }}
	s.propose([]store.Change{{PutCluster: &types.Cluster{ID: "c", TaskHistoryLimit: 5}}})
	for _, n := range nodes {
		s.putNode(n, types.AvailabilityActive, types.NodeReady)
	}
	return s
}

func (s *sim) putNode(id string, a types.Availability, st types.NodeState) {
	s.propose([]store.Change{{PutNode: &types.Node{ID: id, Hostname: id, Role: types.RoleWorker, Availability: a, State: st}}})
}

func (s *sim) propose(changes []store.Change) {
	s.t.Helper()
	if err := s.local.Propose(context.Background(), &store.Command{Changes: changes}); err != nil {
		s.t.Fatalf("propose: %v", err)
	}
	if s.check != nil {
		s.check(s.st.View())
	}
}

func (s *sim) newID() string {
	s.ids++
	return fmt.Sprintf("task%05d", s.ids)
}

func (s *sim) createService(spec types.ServiceSpec) string {
	id := "svc-" + spec.Name
	s.propose([]store.Change{{CreateService: &types.Service{ID: id, Spec: spec}}})
	return id
}

// updateService applies f to the stored service; bump asks for new tasks.
func (s *sim) updateService(id string, bump bool, f func(*types.ServiceSpec)) {
	cur := *s.st.View().Service(id)
	f(&cur.Spec)
	if bump {
		cur.SpecVersion++
	}
	s.propose([]store.Change{{UpdateService: &cur}})
}

// orchestrate runs one reconciliation; it reports whether it committed
// anything and when it wants to be woken.
func (s *sim) orchestrate() (bool, time.Time) {
	v := s.st.View()
	in := orchestrator.Input{Now: s.now, Services: v.Services(), Tasks: v.Tasks(), Nodes: v.Nodes(), NewID: s.newID}
	if c := v.Cluster(); c != nil {
		in.HistoryLimit = c.TaskHistoryLimit
	}
	p := orchestrator.Reconcile(in)
	if p.Empty() {
		return false, p.WakeAt
	}
	s.propose(p.Changes())
	return true, p.WakeAt
}

func (s *sim) schedule() bool {
	v := s.st.View()
	var as []store.TaskAssignment
	for _, a := range scheduler.Schedule(s.now, v.Nodes(), v.Tasks()) {
		if t := v.Task(a.TaskID); a.NodeID == "" && t.Status.State == types.TaskPending && t.Status.Err == a.Status.Err {
			continue // as the scheduler loop does: no rewrite of the same reason
		}
		as = append(as, a)
	}
	if len(as) == 0 {
		return false
	}
	s.propose(scheduler.Changes(as))
	return true
}

// agents plays every ready node's agent: it runs what it is assigned
// (or fails it, per s.fail) and stops what it is told to stop.
func (s *sim) agents() bool {
	v := s.st.View()
	var ups []store.Change
	deferred := false
	for _, n := range v.Nodes() {
		if n.State != types.NodeReady {
			continue // a down node reports nothing
		}
		for _, t := range v.TasksOnNode(n.ID) {
			st := t.Status.State
			if st < types.TaskAssigned || st.Terminal() {
				continue
			}
			var next types.TaskState
			switch {
			case t.DesiredState > types.TaskRunning && s.slowStop && !s.asked[t.ID]:
				if s.asked == nil {
					s.asked = map[string]bool{}
				}
				s.asked[t.ID] = true
				deferred = true
				continue
			case t.DesiredState > types.TaskRunning:
				next = types.TaskShutdown
			case st < types.TaskRunning && s.fail != nil && s.fail(t):
				next = types.TaskFailed
			case st < types.TaskRunning:
				next = types.TaskRunning
			case st == types.TaskRunning && s.complete != nil && s.complete(t):
				next = types.TaskComplete
			default:
				continue
			}
			ups = append(ups, store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: t.ID, NodeID: n.ID,
				Status: types.TaskStatus{State: next, Timestamp: s.now, ContainerID: "c-" + t.ID}}})
		}
	}
	if len(ups) == 0 {
		return deferred
	}
	s.propose(ups)
	return true
}

// failRunning makes the agents report running tasks matched by f as failed.
func (s *sim) failRunning(f func(*types.Task) bool) int {
	v := s.st.View()
	var ups []store.Change
	for _, t := range v.Tasks() {
		if t.Status.State == types.TaskRunning && f(t) {
			ups = append(ups, store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: t.ID, NodeID: t.NodeID,
				Status: types.TaskStatus{State: types.TaskFailed, Timestamp: s.now, Err: "exit 1"}}})
		}
	}
	if len(ups) > 0 {
		s.propose(ups)
	}
	return len(ups)
}

// settle runs the loops until nothing changes and nothing is due; time
// jumps straight to the next wake-up. It returns the time that passed.
func (s *sim) settle() time.Duration {
	s.t.Helper()
	start := s.now
	for i := 0; ; i++ {
		if i > 10000 {
			s.t.Fatal("no fixed point after 10000 rounds")
		}
		s.steps++
		o, wake := s.orchestrate()
		sc := s.schedule()
		a := s.agents()
		if o || sc || a {
			continue
		}
		if wake.IsZero() {
			return s.now.Sub(start)
		}
		if !wake.After(s.now) {
			s.t.Fatalf("wake-up at %v is not after now %v, yet nothing changed", wake, s.now)
		}
		s.now = wake
	}
}

// tasksOf returns a service's tasks by slot key, oldest first.
func (s *sim) tasksOf(svcID string) map[string][]*types.Task {
	out := map[string][]*types.Task{}
	for _, t := range s.st.View().TasksOfService(svcID) {
		out[t.SlotKey()] = append(out[t.SlotKey()], t)
	}
	for _, ts := range out {
		sort.Slice(ts, func(i, j int) bool { return ts[i].CreatedIndex < ts[j].CreatedIndex })
	}
	return out
}

// expectRunning checks the converged state: exactly the given slots, each
// with one live RUNNING task of the given spec version, and per node
// counts of running tasks.
func (s *sim) expectRunning(svcID string, slots []string, version uint64) map[string]int {
	s.t.Helper()
	perNode := map[string]int{}
	down := map[string]bool{}
	for _, n := range s.st.View().Nodes() {
		down[n.ID] = n.State == types.NodeDown
	}
	bySlot := s.tasksOf(svcID)
	var keys []string
	for k, ts := range bySlot {
		live := 0
		for _, t := range ts {
			if t.DesiredState <= types.TaskRunning {
				live++
				if t.Status.State != types.TaskRunning || t.SpecVersion != version {
					s.t.Errorf("slot %s: live task %s is %v v%d, want RUNNING v%d", k, t.ID, t.Status.State, t.SpecVersion, version)
				}
				perNode[t.NodeID]++
			} else if !t.Status.State.Terminal() && !down[t.NodeID] {
				s.t.Errorf("slot %s: task %s told to stop still %v at the fixed point", k, t.ID, t.Status.State)
			}
		}
		if live > 0 {
			keys = append(keys, k)
		}
		if live > 1 {
			s.t.Errorf("slot %s has %d live tasks", k, live)
		}
	}
	sort.Strings(keys)
	want := append([]string(nil), slots...)
	sort.Strings(want)
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		s.t.Errorf("live slots %v, want %v", keys, want)
	}
	return perNode
}

func slotKeys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i + 1)
	}
	return out
}

func replicated(name string, n uint64) types.ServiceSpec {
	return types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: n,
		Container: types.ContainerSpec{Image: "nginx:1"},
		Restart:   types.RestartPolicy{Condition: types.RestartAny, Delay: 5 * time.Second}}
}

// stopFirst checks, after every commit, that no slot has two tasks placed
// on live nodes and not yet stopped.
func stopFirst(t *testing.T) func(v *store.ReadTx) {
	return func(v *store.ReadTx) {
		alive := map[string]bool{}
		for _, n := range v.Nodes() {
			alive[n.ID] = n.State != types.NodeDown
		}
		placed := map[string]int{}
		for _, tk := range v.Tasks() {
			if tk.Status.State >= types.TaskAssigned && !tk.Status.State.Terminal() && alive[tk.NodeID] {
				k := tk.ServiceID + "/" + tk.SlotKey()
				placed[k]++
				if placed[k] > 1 {
					t.Fatalf("index %d: slot %s has %d tasks placed and not stopped", v.Index, k, placed[k])
				}
			}
		}
	}
}

func TestSimCreateAndScale(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	s.check = stopFirst(t)
	id := s.createService(replicated("web", 5))
	if d := s.settle(); d != 0 {
		t.Errorf("creating took %v of clock", d)
	}
	counts := s.expectRunning(id, slotKeys(5), 1)
	if got := fmt.Sprint(counts["n1"], counts["n2"], counts["n3"]); got != "2 2 1" {
		t.Errorf("spread %s, want 2 2 1", got)
	}

	// Scale up: no new spec version, so the running tasks stay.
	before := s.tasksOf(id)
	s.updateService(id, false, func(sp *types.ServiceSpec) { sp.Replicas = 9 })
	s.settle()
	counts = s.expectRunning(id, slotKeys(9), 1)
	if counts["n1"] != 3 || counts["n2"] != 3 || counts["n3"] != 3 {
		t.Errorf("spread after scale up %v, want 3 each", counts)
	}
	after := s.tasksOf(id)
	for k, ts := range before {
		if after[k][0].ID != ts[0].ID || len(after[k]) != 1 {
			t.Errorf("slot %s: task replaced by scaling up", k)
		}
	}

	// Scale down: the highest slots go, and their tasks are deleted.
	s.updateService(id, false, func(sp *types.ServiceSpec) { sp.Replicas = 2 })
	s.settle()
	s.expectRunning(id, slotKeys(2), 1)
	if n := len(s.st.View().TasksOfService(id)); n != 2 {
		t.Errorf("%d tasks left after scaling down to 2, want 2 (the rest reaped)", n)
	}

	// Delete the service: every task goes.
	s.propose([]store.Change{{DeleteService: id}})
	s.settle()
	if n := len(s.st.View().Tasks()); n != 0 {
		t.Errorf("%d tasks left after the service was deleted", n)
	}
}

func TestSimNoNodesThenNodeJoins(t *testing.T) {
	s := newSim(t)
	id := s.createService(replicated("web", 2))
	s.settle()
	for _, tk := range s.st.View().TasksOfService(id) {
		if tk.Status.State != types.TaskPending || !strings.Contains(tk.Status.Err, "no suitable node") {
			t.Fatalf("task %s: %v %q, want PENDING with a reason", tk.ID, tk.Status.State, tk.Status.Err)
		}
	}
	idx := s.st.Index()
	s.settle() // at the fixed point, the pending reason is not rewritten
	if s.st.Index() != idx {
		t.Fatalf("the pending tasks were rewritten with no change")
	}
	s.putNode("n1", types.AvailabilityActive, types.NodeReady)
	s.settle()
	s.expectRunning(id, slotKeys(2), 1)
}

func TestSimFailureAndRestart(t *testing.T) {
	s := newSim(t, "n1", "n2")
	s.check = stopFirst(t)
	id := s.createService(replicated("web", 3))
	s.settle()

	var victim *types.Task
	for _, tk := range s.st.View().TasksOfService(id) {
		if tk.Slot == 2 {
			victim = tk
		}
	}
	if s.failRunning(func(tk *types.Task) bool { return tk.ID == victim.ID }) != 1 {
		t.Fatal("nothing failed")
	}
	// Right after the failure, only a wake-up is planned.
	if changed, wake := s.orchestrate(); changed || !wake.Equal(s.now.Add(5*time.Second)) {
		t.Fatalf("before the delay: changed=%v wake=%v", changed, wake)
	}
	if d := s.settle(); d != 5*time.Second {
		t.Errorf("restart came after %v, want the 5s delay", d)
	}
	s.expectRunning(id, slotKeys(3), 1)
	slot2 := s.tasksOf(id)["2"]
	if len(slot2) != 2 {
		t.Fatalf("slot 2 has %d tasks, want the failed one and its replacement", len(slot2))
	}
	old, repl := slot2[0], slot2[1]
	if old.ID != victim.ID || old.Status.State != types.TaskFailed || old.DesiredState != types.TaskShutdown {
		t.Errorf("old task: %s %v desired %v", old.ID, old.Status.State, old.DesiredState)
	}
	if repl.Attempt != 1 || repl.Slot != 2 {
		t.Errorf("replacement: attempt %d slot %d", repl.Attempt, repl.Slot)
	}
}

func TestSimMaxAttemptsAndHistory(t *testing.T) {
	s := newSim(t, "n1")
	spec := replicated("crash", 1)
	spec.Restart = types.RestartPolicy{Condition: types.RestartAny, Delay: time.Second, MaxAttempts: 7}
	s.fail = func(*types.Task) bool { return true }
	id := s.createService(spec)
	if d := s.settle(); d != 7*time.Second {
		t.Errorf("gave up after %v, want 7 delays of 1s", d)
	}
	ts := s.tasksOf(id)["1"]
	if len(ts) != 5 {
		t.Fatalf("slot keeps %d tasks, want the history limit 5", len(ts))
	}
	last := ts[len(ts)-1]
	if last.Attempt != 7 || last.Status.State != types.TaskFailed || last.DesiredState != types.TaskShutdown {
		t.Errorf("last task: attempt %d %v desired %v", last.Attempt, last.Status.State, last.DesiredState)
	}
	for i, tk := range ts {
		if tk.Attempt != uint64(3+i) {
			t.Errorf("history[%d] is attempt %d: the oldest should have been trimmed", i, tk.Attempt)
		}
	}
	// Nothing more happens, however late.
	s.now = s.now.Add(time.Hour)
	if d := s.settle(); d != 0 || len(s.tasksOf(id)["1"]) != 5 {
		t.Errorf("restarted past max attempts")
	}
}

func TestSimOnFailureComplete(t *testing.T) {
	s := newSim(t, "n1")
	spec := replicated("job", 2)
	spec.Restart.Condition = types.RestartOnFailure
	id := s.createService(spec)
	s.settle()
	// Slot 1 finishes cleanly, slot 2 crashes.
	v := s.st.View()
	var ups []store.Change
	for _, tk := range v.TasksOfService(id) {
		st := types.TaskComplete
		if tk.Slot == 2 {
			st = types.TaskFailed
		}
		ups = append(ups, store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: tk.ID, NodeID: tk.NodeID,
			Status: types.TaskStatus{State: st, Timestamp: s.now}}})
	}
	s.propose(ups)
	s.settle()
	bySlot := s.tasksOf(id)
	if len(bySlot["1"]) != 1 || bySlot["1"][0].DesiredState != types.TaskShutdown {
		t.Errorf("completed slot: %d tasks, desired %v; want it left down", len(bySlot["1"]), bySlot["1"][0].DesiredState)
	}
	if len(bySlot["2"]) != 2 || bySlot["2"][1].Status.State != types.TaskRunning {
		t.Errorf("failed slot was not restarted")
	}
}

func TestSimRollingUpdate(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	s.slowStop = true
	id := s.createService(replicated("web", 4))
	s.settle()

	// During the update, at most one slot may lack a running task, and
	// no slot may run two tasks at once.
	check := stopFirst(t)
	s.check = func(v *store.ReadTx) {
		check(v)
		svc := v.Service(id)
		down := 0
		for slot := uint64(1); slot <= svc.Spec.Replicas; slot++ {
			up := false
			for _, tk := range v.TasksOfService(id) {
				if tk.Slot == slot && tk.DesiredState == types.TaskRunning && tk.Status.State == types.TaskRunning {
					up = true
				}
			}
			if !up {
				down++
			}
		}
		if down > 1 {
			t.Fatalf("index %d: %d slots down at once during a rolling update", v.Index, down)
		}
	}
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:2" })
	s.settle()
	s.expectRunning(id, slotKeys(4), 2)
	for k, ts := range s.tasksOf(id) {
		if len(ts) != 2 || ts[0].SpecVersion != 1 || ts[0].Status.State != types.TaskShutdown || ts[1].Spec.Image != "nginx:2" {
			t.Errorf("slot %s after the update: %d tasks", k, len(ts))
		}
	}

	// A second update while the first is under way still converges.
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:3" })
	for range 3 {
		s.orchestrate()
		s.schedule()
		s.agents()
	}
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "nginx:4" })
	s.settle()
	s.expectRunning(id, slotKeys(4), 4)
	for k, ts := range s.tasksOf(id) {
		if len(ts) > 5 {
			t.Errorf("slot %s keeps %d tasks, over the limit", k, len(ts))
		}
	}
}

func TestSimDrainAndNodeDown(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	s.check = stopFirst(t)
	id := s.createService(replicated("web", 6))
	s.settle()

	s.putNode("n1", types.AvailabilityDrain, types.NodeReady)
	s.settle()
	counts := s.expectRunning(id, slotKeys(6), 1)
	if counts["n1"] != 0 || counts["n2"] != 3 || counts["n3"] != 3 {
		t.Errorf("after drain: %v, want n1 empty and 3/3", counts)
	}

	// n3 goes down: its tasks are replaced on n2, at once.
	s.putNode("n3", types.AvailabilityActive, types.NodeDown)
	s.settle()
	counts = s.expectRunning(id, slotKeys(6), 1)
	if counts["n2"] != 6 {
		t.Errorf("after n3 went down: %v, want all 6 on n2", counts)
	}
}

func TestSimGlobal(t *testing.T) {
	s := newSim(t, "n1", "n2", "n3")
	s.check = stopFirst(t)
	s.putNode("n4", types.AvailabilityDrain, types.NodeReady)
	s.putNode("n5", types.AvailabilityPause, types.NodeReady)
	id := s.createService(types.ServiceSpec{Name: "mon", Mode: types.ModeGlobal, Container: types.ContainerSpec{Image: "mon:1"},
		Restart: types.RestartPolicy{Condition: types.RestartAny, Delay: time.Second}})
	s.settle()
	want := []string{"node:n1", "node:n2", "node:n3"}
	s.expectRunning(id, want, 1)

	// Pausing a node keeps its task; a new node gets one.
	s.putNode("n2", types.AvailabilityPause, types.NodeReady)
	s.putNode("n6", types.AvailabilityActive, types.NodeReady)
	s.settle()
	want = append(want, "node:n6")
	s.expectRunning(id, want, 1)

	// An update passes the paused node by.
	s.updateService(id, true, func(sp *types.ServiceSpec) { sp.Container.Image = "mon:2" })
	s.settle()
	for k, ts := range s.tasksOf(id) {
		live := ts[len(ts)-1]
		wantV := uint64(2)
		if k == "node:n2" {
			wantV = 1
		}
		if live.SpecVersion != wantV || live.Status.State != types.TaskRunning {
			t.Errorf("%s: v%d %v, want v%d RUNNING", k, live.SpecVersion, live.Status.State, wantV)
		}
	}
	// Reactivated, it is updated; drained, its task goes.
	s.putNode("n2", types.AvailabilityActive, types.NodeReady)
	s.putNode("n1", types.AvailabilityDrain, types.NodeReady)
	s.settle()
	s.expectRunning(id, []string{"node:n2", "node:n3", "node:n6"}, 2)
	if ts := s.tasksOf(id)["node:n1"]; len(ts) != 0 {
		t.Errorf("drained node keeps %d tasks", len(ts))
	}
}
