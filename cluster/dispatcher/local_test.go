package dispatcher

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

func task(id, nodeID string, s types.TaskState) *types.Task {
	return &types.Task{ID: id, ServiceID: "svc1", ServiceName: "web", Slot: 1, NodeID: nodeID, SpecVersion: 1,
		DesiredState: types.TaskRunning, Status: types.TaskStatus{State: s}}
}

func newStore(t *testing.T, tasks ...*types.Task) (*store.Store, *store.Local) {
	t.Helper()
	st := store.New()
	local := &store.Local{Store: st}
	changes := make([]store.Change, len(tasks))
	for i, tk := range tasks {
		changes[i] = store.Change{CreateTask: tk}
	}
	if err := local.Propose(context.Background(), &store.Command{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	return st, local
}

func ids(tasks []*types.Task) []string {
	out := make([]string, len(tasks))
	for i, tk := range tasks {
		out[i] = tk.ID
	}
	sort.Strings(out)
	return out
}

func TestAssignmentsOnlyTheNodesTasks(t *testing.T) {
	st, local := newStore(t,
		task("a1", "n1", types.TaskAssigned), task("a2", "n1", types.TaskRunning),
		task("b1", "n2", types.TaskAssigned), task("p1", "", types.TaskPending))
	l := &Local{NodeID: "n1", Store: st, Proposer: local}

	tasks, changed, err := l.Assignments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(tasks); len(got) != 2 || got[0] != "a1" || got[1] != "a2" {
		t.Fatalf("assignments %v, want [a1 a2]", got)
	}
	select {
	case <-changed:
		t.Fatal("changed is closed before any commit")
	default:
	}
	if err := local.Propose(context.Background(), &store.Command{Changes: []store.Change{{CreateTask: task("a3", "n1", types.TaskAssigned)}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("changed not closed by a commit")
	}
	tasks, _, err = l.Assignments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(tasks); len(got) != 3 {
		t.Fatalf("assignments after the commit %v, want [a1 a2 a3]", got)
	}

	none := &Local{NodeID: "n3", Store: st, Proposer: local}
	if tasks, _, err := none.Assignments(context.Background()); err != nil || len(tasks) != 0 {
		t.Fatalf("a node with no tasks: %v, %v", ids(tasks), err)
	}
}

func TestAssignmentsWaitForReady(t *testing.T) {
	st, local := newStore(t, task("a1", "n1", types.TaskAssigned))
	ready := make(chan struct{})
	l := &Local{NodeID: "n1", Store: st, Proposer: local, Ready: ready}

	// Not ready: the context's end is all that returns.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tasks, changed, err := l.Assignments(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || tasks != nil || changed != nil {
		t.Fatalf("before ready: %v, %v, %v; want the context's error", tasks, changed, err)
	}

	type result struct {
		tasks []*types.Task
		err   error
	}
	done := make(chan result, 1)
	go func() {
		tasks, _, err := l.Assignments(context.Background())
		done <- result{tasks, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Assignments returned before ready: %v, %v", ids(r.tasks), r.err)
	case <-time.After(20 * time.Millisecond):
	}
	close(ready)
	select {
	case r := <-done:
		if r.err != nil || len(r.tasks) != 1 || r.tasks[0].ID != "a1" {
			t.Fatalf("after ready: %v, %v", ids(r.tasks), r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Assignments still waiting after ready")
	}
}

// countingProposer counts the commands proposed.
type countingProposer struct {
	store.Proposer
	calls int
	err   error
}

func (p *countingProposer) Propose(ctx context.Context, cmd *store.Command) error {
	p.calls++
	if p.err != nil {
		return p.err
	}
	return p.Proposer.Propose(ctx, cmd)
}

func status(taskID, nodeID string, s types.TaskState, cid string) store.TaskStatusFrom {
	return store.TaskStatusFrom{TaskID: taskID, NodeID: nodeID,
		Status: types.TaskStatus{State: s, Timestamp: time.Now().UTC(), ContainerID: cid}}
}

func TestReportCommitsStatus(t *testing.T) {
	st, local := newStore(t,
		task("a1", "n1", types.TaskAssigned), task("a2", "n1", types.TaskRunning), task("b1", "n2", types.TaskAssigned))
	p := &countingProposer{Proposer: local}
	l := &Local{NodeID: "n1", Store: st, Proposer: p}
	before := st.Index()

	err := l.Report(context.Background(), []store.TaskStatusFrom{
		status("a1", "n1", types.TaskAccepted, ""),
		status("a1", "n1", types.TaskStarting, "c1"),
		status("a1", "n1", types.TaskRunning, ""),
		status("a2", "n1", types.TaskStarting, "x"), // backwards: dropped
		status("b1", "n1", types.TaskRunning, "x"),  // not this node's: dropped
		status("gone", "n1", types.TaskRunning, ""), // deleted task: dropped
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.calls != 1 || st.Index() != before+1 {
		t.Errorf("%d proposals, index %d→%d; want the batch in one command", p.calls, before, st.Index())
	}
	v := st.View()
	if a1 := v.Task("a1"); a1.Status.State != types.TaskRunning || a1.Status.ContainerID != "c1" {
		t.Errorf("a1 status %+v, want RUNNING in c1", a1.Status)
	}
	if a2 := v.Task("a2"); a2.Status.State != types.TaskRunning || a2.Status.ContainerID != "" {
		t.Errorf("a2 status %+v, want unchanged RUNNING", a2.Status)
	}
	if b1 := v.Task("b1"); b1.Status.State != types.TaskAssigned {
		t.Errorf("b1 status %+v, want unchanged ASSIGNED", b1.Status)
	}

	p.err = errors.New("not the leader")
	err = l.Report(context.Background(), []store.TaskStatusFrom{status("a1", "n1", types.TaskFailed, "")})
	if !errors.Is(err, p.err) {
		t.Errorf("Report error %v, want the proposer's", err)
	}
	if s := st.View().Task("a1").Status.State; s != types.TaskRunning {
		t.Errorf("a1 %s after a failed report", s)
	}
}
