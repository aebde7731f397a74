package orchestrator

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// tk describes a stored task compactly.
type tk struct {
	id      string
	slot    uint64 // 0: global, on node
	node    string
	ver     uint64 // spec version; 0 means 1
	desired types.TaskState
	state   types.TaskState
	at      time.Duration // status timestamp, from t0
	created uint64        // creation log index; 0 means unknown
	attempt uint64
	svc     string        // service ID; "" means "s1"
	skew    time.Duration // added to the creation time
	// ran and ended are the RunningAt and EndedAt times, from t0; 0:
	// not set.
	ran, ended time.Duration
}

func (d tk) task() *types.Task {
	ver := d.ver
	if ver == 0 {
		ver = 1
	}
	svc := d.svc
	if svc == "" {
		svc = "s1"
	}
	t := &types.Task{
		ID: d.id, ServiceID: svc, ServiceName: "web", Slot: d.slot, NodeID: d.node, SpecVersion: ver,
		DesiredState: d.desired, Attempt: d.attempt, CreatedIndex: d.created,
		Meta:   types.Meta{CreatedAt: t0.Add(time.Duration(d.created)*time.Millisecond + d.skew)},
		Status: types.TaskStatus{State: d.state, Timestamp: t0.Add(d.at)},
	}
	if d.ran != 0 {
		t.RunningAt = t0.Add(d.ran)
	}
	if d.ended != 0 {
		t.EndedAt = t0.Add(d.ended)
	}
	return t
}

const (
	run  = types.TaskRunning
	shut = types.TaskShutdown
	rm   = types.TaskRemove
)

func running(id string, slot uint64, node string) tk {
	return tk{id: id, slot: slot, node: node, desired: run, state: run}
}

type nd struct {
	id    string
	avail types.Availability
	state types.NodeState
}

func readyNodes(ids ...string) []nd {
	out := make([]nd, len(ids))
	for i, id := range ids {
		out[i] = nd{id: id}
	}
	return out
}

func (n nd) node() *types.Node {
	a, s := n.avail, n.state
	if a == "" {
		a = types.AvailabilityActive
	}
	if s == "" {
		s = types.NodeReady
	}
	return &types.Node{ID: n.id, Hostname: n.id, Availability: a, State: s}
}

type svcOpt struct {
	mode        types.Mode
	replicas    uint64
	ver         uint64
	cond        types.RestartCondition
	delay       time.Duration
	maxAttempts uint64
}

func service(o svcOpt) *types.Service {
	if o.mode == "" {
		o.mode = types.ModeReplicated
	}
	if o.ver == 0 {
		o.ver = 1
	}
	if o.cond == "" {
		o.cond = types.RestartAny
	}
	return &types.Service{ID: "s1", SpecVersion: o.ver, Spec: types.ServiceSpec{
		Name: "web", Mode: o.mode, Replicas: o.replicas,
		Container: types.ContainerSpec{Image: fmt.Sprintf("nginx:%d", o.ver)},
		Restart:   types.RestartPolicy{Condition: o.cond, Delay: o.delay, MaxAttempts: o.maxAttempts},
		Ports:     []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080}},
	}}
}

// want is a plan in words: created tasks as "slot/node@attempt v<ver>",
// desires as "id=STATE", deletes as IDs.
type want struct {
	create []string
	desire []string
	delete []string
	wake   time.Duration // 0: no wake
}

func describe(p Plan) want {
	var w want
	for _, t := range p.Create {
		w.create = append(w.create, fmt.Sprintf("%d/%s@%d v%d", t.Slot, t.NodeID, t.Attempt, t.SpecVersion))
	}
	for _, d := range p.Desire {
		w.desire = append(w.desire, d.TaskID+"="+d.State.String())
	}
	w.delete = append(w.delete, p.Delete...)
	if !p.WakeAt.IsZero() {
		w.wake = p.WakeAt.Sub(t0)
	}
	return w
}

type reconcileCase struct {
	name    string
	svc     *types.Service // nil: no service (its tasks are orphans)
	nodes   []nd
	tasks   []tk
	now     time.Duration
	history int
	want    want
}

func seqIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("new%d", n) }
}

func (c reconcileCase) input() Input {
	in := Input{Now: t0.Add(c.now), HistoryLimit: c.history, NewID: seqIDs()}
	if c.svc != nil {
		in.Services = []*types.Service{c.svc}
	}
	for _, n := range c.nodes {
		in.Nodes = append(in.Nodes, n.node())
	}
	for _, d := range c.tasks {
		in.Tasks = append(in.Tasks, d.task())
	}
	return in
}

func runCases(t *testing.T, cases []reconcileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := describe(Reconcile(c.input()))
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("plan:\n got  %s\n want %s", show(got), show(c.want))
			}
		})
	}
}

func show(w want) string {
	return fmt.Sprintf("create=[%s] desire=[%s] delete=[%s] wake=%v",
		strings.Join(w.create, " "), strings.Join(w.desire, " "), strings.Join(w.delete, " "), w.wake)
}

func TestReconcileCreate(t *testing.T) {
	in := reconcileCase{svc: service(svcOpt{replicas: 3, ver: 4})}.input()
	p := Reconcile(in)
	if len(p.Create) != 3 || len(p.Desire)+len(p.Delete) != 0 || !p.WakeAt.IsZero() {
		t.Fatalf("plan: %s", show(describe(p)))
	}
	svc := in.Services[0]
	for i, task := range p.Create {
		wantTask := &types.Task{
			ID: fmt.Sprintf("new%d", i+1), ServiceID: "s1", ServiceName: "web", Slot: uint64(i + 1),
			SpecVersion: 4, Spec: svc.Spec.Container, Ports: svc.Spec.Ports, DesiredState: types.TaskRunning,
			Status: types.TaskStatus{State: types.TaskNew, Timestamp: t0, Message: "created"},
		}
		if !reflect.DeepEqual(task, wantTask) {
			t.Errorf("task %d:\n got  %+v\n want %+v", i, task, wantTask)
		}
	}
	if ch := p.Changes(); len(ch) != 3 || ch[0].CreateTask != p.Create[0] {
		t.Errorf("Changes() = %+v", ch)
	}
	if p.Empty() {
		t.Error("Empty() on a plan with creates")
	}
}

func TestReconcileReplicated(t *testing.T) {
	nodes := readyNodes("n1", "n2")
	runCases(t, []reconcileCase{
		{
			name: "from nothing",
			svc:  service(svcOpt{replicas: 3}),
			want: want{create: []string{"1/@0 v1", "2/@0 v1", "3/@0 v1"}},
		},
		{
			name: "zero replicas",
			svc:  service(svcOpt{replicas: 0}),
		},
		{
			name:  "steady",
			svc:   service(svcOpt{replicas: 2}),
			nodes: nodes,
			tasks: []tk{running("a", 1, "n1"), running("b", 2, "n2")},
		},
		{
			name:  "unplaced tasks are left to the scheduler",
			svc:   service(svcOpt{replicas: 2}),
			tasks: []tk{{id: "a", slot: 1, desired: run}, {id: "b", slot: 2, desired: run, state: types.TaskPending}},
		},
		{
			name:  "scale up",
			svc:   service(svcOpt{replicas: 4}),
			nodes: nodes,
			tasks: []tk{running("a", 1, "n1"), running("b", 2, "n2")},
			want:  want{create: []string{"3/@0 v1", "4/@0 v1"}},
		},
		{
			name:  "scale up fills a gap",
			svc:   service(svcOpt{replicas: 3}),
			nodes: nodes,
			tasks: []tk{running("a", 1, "n1"), running("c", 3, "n2")},
			want:  want{create: []string{"2/@0 v1"}},
		},
		{
			name:  "scale down: highest slots told to go",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: []tk{running("c", 3, "n1"), running("a", 1, "n1"), running("b", 2, "n2")},
			want:  want{desire: []string{"b=REMOVE", "c=REMOVE"}},
		},
		{
			name:  "scale down: reaped once stopped",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: []tk{
				running("a", 1, "n1"),
				{id: "b", slot: 2, node: "n2", desired: rm, state: shut},
				{id: "c", slot: 3, node: "n1", desired: rm, state: run},
			},
			want: want{delete: []string{"b"}},
		},
		{
			name:  "scale down: never placed task deleted at once",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: []tk{running("a", 1, "n1"), {id: "b", slot: 2, desired: run, state: types.TaskPending}},
			want:  want{desire: []string{"b=REMOVE"}, delete: []string{"b"}},
		},
		{
			name:  "scale down: history of a removed slot goes too",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: []tk{
				running("a", 1, "n1"),
				{id: "b1", slot: 2, node: "n2", desired: shut, state: types.TaskFailed, created: 1},
				{id: "b2", slot: 2, node: "n2", desired: run, state: run, created: 2, attempt: 1},
			},
			want: want{desire: []string{"b1=REMOVE", "b2=REMOVE"}, delete: []string{"b1"}},
		},
		{
			name:  "scale down to zero",
			svc:   service(svcOpt{replicas: 0}),
			nodes: nodes,
			tasks: []tk{running("a", 1, "n1"), running("b", 2, "n2")},
			want:  want{desire: []string{"a=REMOVE", "b=REMOVE"}},
		},
		{
			name:  "slot ten sorts after slot two",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: []tk{running("x10", 10, "n1"), running("x2", 2, "n1"), running("x1", 1, "n2")},
			want:  want{desire: []string{"x2=REMOVE", "x10=REMOVE"}},
		},
	})
}

func TestReconcileRestart(t *testing.T) {
	nodes := readyNodes("n1")
	failedAt := func(id string, attempt uint64) tk {
		return tk{id: id, slot: 1, node: "n1", desired: run, state: types.TaskFailed, at: 10 * time.Second, attempt: attempt}
	}
	complete := tk{id: "a", slot: 1, node: "n1", desired: run, state: types.TaskComplete, at: 10 * time.Second}
	runCases(t, []reconcileCase{
		{
			name:  "any: before the delay, only a wake-up",
			svc:   service(svcOpt{replicas: 1, delay: 5 * time.Second}),
			nodes: nodes,
			tasks: []tk{failedAt("a", 0)},
			now:   12 * time.Second,
			want:  want{wake: 15 * time.Second},
		},
		{
			name:  "any: at the delay, replaced in the same slot",
			svc:   service(svcOpt{replicas: 1, delay: 5 * time.Second}),
			nodes: nodes,
			tasks: []tk{failedAt("a", 0)},
			now:   15 * time.Second,
			want:  want{create: []string{"1/@1 v1"}, desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "any: after the delay, attempt counted on",
			svc:   service(svcOpt{replicas: 1, delay: 5 * time.Second}),
			nodes: nodes,
			tasks: []tk{failedAt("a", 2)},
			now:   time.Minute,
			want:  want{create: []string{"1/@3 v1"}, desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "any: earliest wake-up of several",
			svc:   service(svcOpt{replicas: 2, delay: 5 * time.Second}),
			nodes: nodes,
			tasks: []tk{
				{id: "a", slot: 1, node: "n1", desired: run, state: types.TaskFailed, at: 30 * time.Second},
				{id: "b", slot: 2, node: "n1", desired: run, state: types.TaskFailed, at: 20 * time.Second},
			},
			now:  21 * time.Second,
			want: want{wake: 25 * time.Second},
		},
		{
			name:  "any: a completed task restarts too",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: []tk{complete},
			now:   time.Minute,
			want:  want{create: []string{"1/@1 v1"}, desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "on-failure: complete is not restarted",
			svc:   service(svcOpt{replicas: 1, cond: types.RestartOnFailure}),
			nodes: nodes,
			tasks: []tk{complete},
			now:   time.Minute,
			want:  want{desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "on-failure: complete stays down on later rounds",
			svc:   service(svcOpt{replicas: 1, cond: types.RestartOnFailure}),
			nodes: nodes,
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: types.TaskComplete}},
			now:   time.Hour,
		},
		{
			name:  "on-failure: failure restarts",
			svc:   service(svcOpt{replicas: 1, cond: types.RestartOnFailure}),
			nodes: nodes,
			tasks: []tk{failedAt("a", 0)},
			now:   time.Minute,
			want:  want{create: []string{"1/@1 v1"}, desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "on-failure: finished task is redone after an update",
			svc:   service(svcOpt{replicas: 1, cond: types.RestartOnFailure, ver: 2}),
			nodes: nodes,
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: types.TaskComplete}},
			want:  want{create: []string{"1/@0 v2"}},
		},
		{
			name:  "none: no restart",
			svc:   service(svcOpt{replicas: 1, cond: types.RestartNone}),
			nodes: nodes,
			tasks: []tk{failedAt("a", 0)},
			now:   time.Minute,
			want:  want{desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "none: stays down",
			svc:   service(svcOpt{replicas: 1, cond: types.RestartNone}),
			nodes: nodes,
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: types.TaskFailed}},
			now:   time.Hour,
		},
		{
			name:  "max attempts reached",
			svc:   service(svcOpt{replicas: 1, maxAttempts: 3}),
			nodes: nodes,
			tasks: []tk{failedAt("a", 3)},
			now:   time.Minute,
			want:  want{desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "max attempts reached: stays down",
			svc:   service(svcOpt{replicas: 1, maxAttempts: 3}),
			nodes: nodes,
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: types.TaskFailed, attempt: 3}},
			now:   time.Hour,
		},
		{
			name:  "max attempts: last one allowed",
			svc:   service(svcOpt{replicas: 1, maxAttempts: 3}),
			nodes: nodes,
			tasks: []tk{failedAt("a", 2)},
			now:   time.Minute,
			want:  want{create: []string{"1/@3 v1"}, desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "restarted slot waits for its new task",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: []tk{
				{id: "a", slot: 1, node: "n1", desired: shut, state: types.TaskFailed, created: 1},
				{id: "b", slot: 1, desired: run, state: types.TaskNew, created: 2, attempt: 1},
			},
			now: time.Minute,
		},
		{
			name:  "failed while told to stop: no restart of a stopped task",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: []tk{
				{id: "a", slot: 1, node: "n1", desired: shut, state: types.TaskFailed, created: 1},
				{id: "b", slot: 1, node: "n1", desired: run, state: run, created: 2, attempt: 1},
			},
			now: time.Minute,
		},
	})
}

func TestReconcileRollingUpdate(t *testing.T) {
	nodes := readyNodes("n1", "n2", "n3")
	v2 := service(svcOpt{replicas: 3, ver: 2})
	runCases(t, []reconcileCase{
		{
			name:  "one outdated task at a time",
			svc:   v2,
			nodes: nodes,
			tasks: []tk{running("a", 1, "n1"), running("b", 2, "n2"), running("c", 3, "n3")},
			want:  want{desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "stop first: no replacement while the old one runs, no other stop",
			svc:   v2,
			nodes: nodes,
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: run}, running("b", 2, "n2"), running("c", 3, "n3")},
		},
		{
			name:  "replacement once the old one stopped",
			svc:   v2,
			nodes: nodes,
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: shut}, running("b", 2, "n2"), running("c", 3, "n3")},
			want:  want{create: []string{"1/@0 v2"}},
		},
		{
			name:  "keeps the attempt count",
			svc:   v2,
			nodes: nodes,
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: shut, attempt: 2}, running("b", 2, "n2"), running("c", 3, "n3")},
			want:  want{create: []string{"1/@2 v2"}},
		},
		{
			name:  "waits while the replacement starts",
			svc:   v2,
			nodes: nodes,
			tasks: []tk{
				{id: "a", slot: 1, node: "n1", desired: shut, state: shut, created: 1},
				{id: "a2", slot: 1, node: "n1", ver: 2, desired: run, state: types.TaskAssigned, created: 5},
				running("b", 2, "n2"), running("c", 3, "n3"),
			},
		},
		{
			name:  "waits while an unplaced replacement starts",
			svc:   v2,
			nodes: nodes,
			tasks: []tk{
				{id: "a", slot: 1, node: "n1", desired: shut, state: shut, created: 1},
				{id: "a2", slot: 1, ver: 2, desired: run, state: types.TaskPending, created: 5},
				running("b", 2, "n2"), running("c", 3, "n3"),
			},
		},
		{
			name:  "next slot once the replacement runs",
			svc:   v2,
			nodes: nodes,
			tasks: []tk{
				{id: "a", slot: 1, node: "n1", desired: shut, state: shut, created: 1},
				{id: "a2", slot: 1, node: "n1", ver: 2, desired: run, state: run, created: 5},
				running("b", 2, "n2"), running("c", 3, "n3"),
			},
			want: want{desire: []string{"b=SHUTDOWN"}},
		},
		{
			// A restart is no rollout's: it holds no place (Docker's
			// updater does not wait for one either).
			name:  "a pending restart does not hold the update back",
			svc:   service(svcOpt{replicas: 3, ver: 2, delay: time.Minute}),
			nodes: nodes,
			tasks: []tk{
				running("a", 1, "n1"), running("b", 2, "n2"),
				{id: "c", slot: 3, node: "n3", ver: 2, desired: run, state: types.TaskFailed},
			},
			want: want{desire: []string{"a=SHUTDOWN"}, wake: time.Minute},
		},
		{
			name:  "an outdated failed task restarts on the new spec",
			svc:   service(svcOpt{replicas: 2, ver: 2}),
			nodes: nodes,
			tasks: []tk{running("a", 1, "n1"), {id: "b", slot: 2, node: "n2", desired: run, state: types.TaskFailed}},
			want:  want{create: []string{"2/@1 v2"}, desire: []string{"b=SHUTDOWN"}},
		},
		{
			name:  "slots in numeric order",
			svc:   service(svcOpt{replicas: 10, ver: 2}),
			nodes: nodes,
			tasks: func() []tk {
				var ts []tk
				for i := uint64(10); i >= 1; i-- {
					d := running(fmt.Sprintf("t%d", i), i, "n1")
					if i == 1 {
						d.ver = 2
					}
					ts = append(ts, d)
				}
				return ts
			}(),
			want: want{desire: []string{"t2=SHUTDOWN"}},
		},
		{
			name:  "done: nothing outdated",
			svc:   v2,
			nodes: nodes,
			tasks: []tk{
				{id: "a", slot: 1, node: "n1", ver: 2, desired: run, state: run},
				{id: "b", slot: 2, node: "n2", ver: 2, desired: run, state: run},
				{id: "c", slot: 3, node: "n3", ver: 2, desired: run, state: run},
			},
		},
	})
}

func TestReconcileHistory(t *testing.T) {
	nodes := readyNodes("n1")
	slotHistory := func(old int) []tk {
		var ts []tk
		for i := range old {
			ts = append(ts, tk{id: fmt.Sprintf("h%d", i), slot: 1, node: "n1", desired: shut, state: types.TaskFailed,
				created: uint64(i + 1), attempt: uint64(i)})
		}
		return append(ts, tk{id: "live", slot: 1, node: "n1", desired: run, state: run, created: 100, attempt: uint64(old)})
	}
	runCases(t, []reconcileCase{
		{
			name:  "default limit 5",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: slotHistory(6),
			want:  want{delete: []string{"h0", "h1"}},
		},
		{
			name:    "limit 3",
			svc:     service(svcOpt{replicas: 1}),
			nodes:   nodes,
			tasks:   slotHistory(6),
			history: 3,
			want:    want{delete: []string{"h0", "h1", "h2", "h3"}},
		},
		{
			name:    "at the limit",
			svc:     service(svcOpt{replicas: 1}),
			nodes:   nodes,
			tasks:   slotHistory(2),
			history: 3,
		},
		{
			name:    "limit 1 keeps only the live task",
			svc:     service(svcOpt{replicas: 1}),
			nodes:   nodes,
			tasks:   slotHistory(3),
			history: 1,
			want:    want{delete: []string{"h0", "h1", "h2"}},
		},
		{
			name:  "a task still stopping is kept",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: func() []tk {
				ts := slotHistory(5)
				ts[0].state = run // told to stop, not stopped yet
				return ts
			}(),
			history: 3,
			want:    want{delete: []string{"h1", "h2", "h3"}},
		},
		{
			name:  "order by creation index, not by clock",
			svc:   service(svcOpt{replicas: 1}),
			nodes: nodes,
			tasks: func() []tk {
				ts := slotHistory(3)
				// Reverse the clock: the oldest task has the latest time.
				for i := range ts {
					ts[i].skew = -time.Duration(i) * time.Hour
				}
				return ts
			}(),
			history: 2,
			want:    want{delete: []string{"h0", "h1"}},
		},
		{
			name:  "per slot",
			svc:   service(svcOpt{replicas: 2}),
			nodes: nodes,
			tasks: func() []tk {
				ts := slotHistory(2)
				for _, d := range slotHistory(2) {
					d.id = "s2" + d.id
					d.slot = 2
					ts = append(ts, d)
				}
				return ts
			}(),
			history: 2,
			want:    want{delete: []string{"h0", "s2h0"}},
		},
	})
}

// The last task of a slot decides a refill; times that run backwards must
// not make an older, stopped task look like the last one.
func TestReconcileStopFirstDespiteClock(t *testing.T) {
	in := reconcileCase{
		svc:   service(svcOpt{replicas: 1, ver: 3}),
		nodes: readyNodes("n1"),
		tasks: []tk{
			{id: "old", slot: 1, node: "n1", desired: shut, state: shut, created: 5},
			{id: "new", slot: 1, node: "n1", ver: 2, desired: shut, state: run, created: 9},
		},
	}.input()
	in.Tasks[0].CreatedAt = t0.Add(time.Hour) // the old leader's clock was ahead
	in.Tasks[1].CreatedAt = t0
	if p := Reconcile(in); !p.Empty() {
		t.Fatalf("created a replacement while the newest task still runs: %s", show(describe(p)))
	}
}

func TestReconcileNodes(t *testing.T) {
	runCases(t, []reconcileCase{
		{
			name:  "replicated: drained node's task stopped first",
			svc:   service(svcOpt{replicas: 2}),
			nodes: []nd{{id: "n1", avail: types.AvailabilityDrain}, {id: "n2"}},
			tasks: []tk{running("a", 1, "n1"), running("b", 2, "n2")},
			want:  want{desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "replicated: drained node's task replaced once stopped",
			svc:   service(svcOpt{replicas: 2}),
			nodes: []nd{{id: "n1", avail: types.AvailabilityDrain}, {id: "n2"}},
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: shut}, running("b", 2, "n2")},
			want:  want{create: []string{"1/@0 v1"}},
		},
		{
			name:  "replicated: paused node keeps its task",
			svc:   service(svcOpt{replicas: 1}),
			nodes: []nd{{id: "n1", avail: types.AvailabilityPause}},
			tasks: []tk{running("a", 1, "n1")},
		},
		{
			name:  "replicated: down node's task replaced at once",
			svc:   service(svcOpt{replicas: 2}),
			nodes: []nd{{id: "n1", state: types.NodeDown}, {id: "n2"}},
			tasks: []tk{running("a", 1, "n1"), running("b", 2, "n2")},
			want:  want{create: []string{"1/@0 v1"}, desire: []string{"a=REMOVE"}},
		},
		{
			name:  "replicated: the stopped task on a down node does not block the slot",
			svc:   service(svcOpt{replicas: 1, ver: 2}),
			nodes: []nd{{id: "n1", state: types.NodeDown}},
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: run}},
			want:  want{create: []string{"1/@0 v2"}},
		},
		{
			name:  "replicated: removed node's task replaced, and reaped when trimmed",
			svc:   service(svcOpt{replicas: 1}),
			nodes: readyNodes("n2"),
			tasks: []tk{running("a", 1, "gone")},
			want:  want{create: []string{"1/@0 v1"}, desire: []string{"a=REMOVE"}},
		},
		{
			name:  "replicated: unknown node state changes nothing",
			svc:   service(svcOpt{replicas: 1}),
			nodes: []nd{{id: "n1", state: types.NodeUnknown}},
			tasks: []tk{running("a", 1, "n1")},
		},
	})
}

func TestReconcileGlobal(t *testing.T) {
	global := service(svcOpt{mode: types.ModeGlobal})
	g := func(id, node string, desired, state types.TaskState) tk {
		return tk{id: id, node: node, desired: desired, state: state}
	}
	runCases(t, []reconcileCase{
		{
			name:  "one per schedulable node",
			svc:   global,
			nodes: readyNodes("n2", "n1", "n3"),
			want:  want{create: []string{"0/n1@0 v1", "0/n2@0 v1", "0/n3@0 v1"}},
		},
		{
			name: "none on drained, paused, down or unknown nodes",
			svc:  global,
			nodes: []nd{
				{id: "n1"},
				{id: "n2", avail: types.AvailabilityDrain},
				{id: "n3", avail: types.AvailabilityPause},
				{id: "n4", state: types.NodeDown},
				{id: "n5", state: types.NodeUnknown},
			},
			want: want{create: []string{"0/n1@0 v1"}},
		},
		{
			name:  "no nodes, no tasks",
			svc:   global,
			nodes: nil,
		},
		{
			name:  "steady",
			svc:   global,
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{g("a", "n1", run, run), g("b", "n2", run, run)},
		},
		{
			name:  "new node gets one",
			svc:   global,
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{g("a", "n1", run, run)},
			want:  want{create: []string{"0/n2@0 v1"}},
		},
		{
			name:  "drained node's task removed",
			svc:   global,
			nodes: []nd{{id: "n1"}, {id: "n2", avail: types.AvailabilityDrain}},
			tasks: []tk{g("a", "n1", run, run), g("b", "n2", run, run)},
			want:  want{desire: []string{"b=REMOVE"}},
		},
		{
			name:  "drained node's task reaped once stopped",
			svc:   global,
			nodes: []nd{{id: "n1"}, {id: "n2", avail: types.AvailabilityDrain}},
			tasks: []tk{g("a", "n1", run, run), g("b", "n2", rm, shut)},
			want:  want{delete: []string{"b"}},
		},
		{
			name:  "paused node keeps its task",
			svc:   global,
			nodes: []nd{{id: "n1", avail: types.AvailabilityPause}},
			tasks: []tk{g("a", "n1", run, run)},
		},
		{
			name:  "paused node: an outdated task is not updated",
			svc:   service(svcOpt{mode: types.ModeGlobal, ver: 2}),
			nodes: []nd{{id: "n1", avail: types.AvailabilityPause}, {id: "n2"}},
			tasks: []tk{g("a", "n1", run, run), g("b", "n2", run, run)},
			want:  want{desire: []string{"b=SHUTDOWN"}},
		},
		{
			name:  "paused node: a failed task is not restarted",
			svc:   global,
			nodes: []nd{{id: "n1", avail: types.AvailabilityPause}},
			tasks: []tk{g("a", "n1", run, types.TaskFailed)},
			now:   time.Hour,
		},
		{
			name:  "paused node: history only, no new task, history goes",
			svc:   global,
			nodes: []nd{{id: "n1", avail: types.AvailabilityPause}},
			tasks: []tk{g("a", "n1", shut, types.TaskFailed)},
			want:  want{desire: []string{"a=REMOVE"}, delete: []string{"a"}},
		},
		{
			name:  "paused node: a task being removed gets no successor",
			svc:   global,
			nodes: []nd{{id: "n1", avail: types.AvailabilityPause}},
			tasks: []tk{g("a", "n1", rm, run)},
		},
		{
			name:  "paused but down: removed",
			svc:   global,
			nodes: []nd{{id: "n1", avail: types.AvailabilityPause, state: types.NodeDown}},
			tasks: []tk{g("a", "n1", run, run)},
			want:  want{desire: []string{"a=REMOVE"}},
		},
		{
			name:  "unknown node keeps its task",
			svc:   global,
			nodes: []nd{{id: "n1", state: types.NodeUnknown}},
			tasks: []tk{g("a", "n1", run, run)},
		},
		{
			name:  "removed node's task reaped",
			svc:   global,
			nodes: readyNodes("n1"),
			tasks: []tk{g("a", "n1", run, run), g("b", "gone", run, run)},
			want:  want{desire: []string{"b=REMOVE"}, delete: []string{"b"}},
		},
		{
			name:  "failed task restarted on its node",
			svc:   global,
			nodes: readyNodes("n1"),
			tasks: []tk{g("a", "n1", run, types.TaskFailed)},
			now:   time.Minute,
			want:  want{create: []string{"0/n1@1 v1"}, desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "rolling update, one node at a time",
			svc:   service(svcOpt{mode: types.ModeGlobal, ver: 2}),
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{g("a", "n1", run, run), g("b", "n2", run, run)},
			want:  want{desire: []string{"a=SHUTDOWN"}},
		},
		{
			name:  "rolling update: replacement pinned to its node",
			svc:   service(svcOpt{mode: types.ModeGlobal, ver: 2}),
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{g("a", "n1", shut, shut), g("b", "n2", run, run)},
			want:  want{create: []string{"0/n1@0 v2"}},
		},
		{
			name:  "never placed task on a drained node deleted",
			svc:   global,
			nodes: []nd{{id: "n1", avail: types.AvailabilityDrain}},
			tasks: []tk{g("a", "n1", run, types.TaskPending)},
			want:  want{desire: []string{"a=REMOVE"}, delete: []string{"a"}},
		},
	})
}

func TestReconcileDeletedService(t *testing.T) {
	runCases(t, []reconcileCase{
		{
			name:  "tasks told to go; stopped and unplaced ones deleted",
			nodes: readyNodes("n1"),
			tasks: []tk{
				running("a", 1, "n1"),
				{id: "b", slot: 2, node: "n1", desired: run, state: types.TaskFailed},
				{id: "c", slot: 3, desired: run, state: types.TaskPending},
				{id: "d", slot: 4, node: "n1", desired: rm, state: run},
				{id: "e", slot: 5, node: "n1", desired: rm, state: shut},
				{id: "f", slot: 6, node: "gone", desired: run, state: run},
				{id: "g", node: "n1", desired: run, state: types.TaskNew}, // global, pinned, never assigned
			},
			want: want{
				desire: []string{"a=REMOVE", "b=REMOVE", "c=REMOVE", "f=REMOVE", "g=REMOVE"},
				delete: []string{"b", "c", "e", "f", "g"},
			},
		},
		{
			name:  "other services' tasks untouched",
			svc:   service(svcOpt{replicas: 1}),
			nodes: readyNodes("n1"),
			tasks: []tk{running("a", 1, "n1"), {id: "x", slot: 1, node: "n1", desired: run, state: run, svc: "s2"}},
			want:  want{desire: []string{"x=REMOVE"}},
		},
	})
}

// Reconcile is deterministic: the same input gives the same plan.
func TestReconcileDeterministic(t *testing.T) {
	c := reconcileCase{
		svc:   service(svcOpt{replicas: 20, ver: 2, delay: time.Second}),
		nodes: readyNodes("n1", "n2", "n3"),
	}
	for i := uint64(1); i <= 30; i++ {
		d := running(fmt.Sprintf("t%02d", i), i, fmt.Sprintf("n%d", i%3+1))
		switch i % 5 {
		case 0:
			d.state = types.TaskFailed
		case 1:
			d.ver = 2
		}
		c.tasks = append(c.tasks, d)
		c.tasks = append(c.tasks, tk{id: fmt.Sprintf("o%02d", i), svc: "gone", slot: i, node: "n1", desired: run, state: types.TaskFailed})
	}
	c.now = time.Hour
	first := Reconcile(c.input())
	if first.Empty() {
		t.Fatal("empty plan")
	}
	for range 20 {
		if got := Reconcile(c.input()); !reflect.DeepEqual(got, first) {
			t.Fatalf("plans differ:\n%s\n%s", show(describe(got)), show(describe(first)))
		}
	}
}

func TestPlanDesireOnlyForward(t *testing.T) {
	var p Plan
	task := &types.Task{ID: "a", DesiredState: types.TaskShutdown}
	p.desire(task, types.TaskRunning)
	p.desire(task, types.TaskShutdown)
	if len(p.Desire) != 0 {
		t.Fatalf("backwards desire planned: %+v", p.Desire)
	}
	p.desire(task, types.TaskRemove)
	if len(p.Desire) != 1 {
		t.Fatalf("forward desire not planned")
	}
}

// TestReconcileBounded: a service of many replicas gets at most
// MaxCreatesPerService new tasks a pass, in slot order, and all of them
// over the passes that follow; the other services are not held up.
func TestReconcileBounded(t *testing.T) {
	big := service(svcOpt{replicas: 3*MaxCreatesPerService + 7})
	small := service(svcOpt{replicas: 2})
	small.ID, small.Spec.Name = "s2", "api"
	in := Input{Now: t0, Services: []*types.Service{big, small}, NewID: seqIDs()}
	passes := 0
	for {
		p := Reconcile(in)
		if p.Empty() {
			break
		}
		passes++
		perService := map[string]int{}
		for _, task := range p.Create {
			perService[task.ServiceID]++
		}
		if perService["s1"] > MaxCreatesPerService {
			t.Fatalf("pass %d made %d tasks for one service", passes, perService["s1"])
		}
		if passes == 1 && perService["s2"] != 2 {
			t.Fatalf("the small service waited behind the big one: %d tasks in the first pass", perService["s2"])
		}
		if passes == 1 && (p.Create[0].Slot != 1 || p.Create[MaxCreatesPerService-1].Slot != MaxCreatesPerService) {
			t.Fatalf("first pass made slots %d..%d, want 1..%d", p.Create[0].Slot, p.Create[MaxCreatesPerService-1].Slot, MaxCreatesPerService)
		}
		in.Tasks = append(in.Tasks, p.Create...)
		if passes > 10 {
			t.Fatal("no convergence in 10 passes")
		}
	}
	if passes != 4 || len(in.Tasks) != int(big.Spec.Replicas+small.Spec.Replicas) {
		t.Fatalf("%d passes made %d tasks; want 4 passes, %d tasks", passes, len(in.Tasks), big.Spec.Replicas+2)
	}
	slots := map[uint64]bool{}
	for _, task := range in.Tasks {
		if task.ServiceID == "s1" {
			slots[task.Slot] = true
		}
	}
	if len(slots) != int(big.Spec.Replicas) {
		t.Fatalf("%d distinct slots for %d replicas", len(slots), big.Spec.Replicas)
	}
}

// TestReconcileBoundedRestarts: replacements count against the bound
// too, and a restart put off to a later pass keeps its attempt count.
func TestReconcileBoundedRestarts(t *testing.T) {
	n := MaxCreatesPerService + 3
	c := reconcileCase{svc: service(svcOpt{replicas: uint64(n)}), nodes: readyNodes("n1")}
	for i := 1; i <= n; i++ {
		c.tasks = append(c.tasks, tk{id: fmt.Sprintf("t%d", i), slot: uint64(i), node: "n1", desired: run,
			state: types.TaskFailed, attempt: 2, created: uint64(i)})
	}
	in := c.input()
	p := Reconcile(in)
	if len(p.Create) != MaxCreatesPerService || len(p.Desire) != MaxCreatesPerService {
		t.Fatalf("first pass: %d creates, %d desires; want %d of each", len(p.Create), len(p.Desire), MaxCreatesPerService)
	}
	for _, task := range p.Create {
		if task.Attempt != 3 {
			t.Fatalf("slot %d restarted as attempt %d, want 3", task.Slot, task.Attempt)
		}
	}
}

// TestReconcileUnreconcilable: a stored service beyond the limits is
// reported, not followed: no task is made, whatever it asks; the report
// is written once, and cleared when the service is scaled down.
func TestReconcileUnreconcilable(t *testing.T) {
	huge := service(svcOpt{replicas: math.MaxUint64})
	in := Input{Now: t0, Services: []*types.Service{huge}, NewID: seqIDs()}
	p := Reconcile(in)
	if len(p.Create)+len(p.Desire)+len(p.Delete) != 0 {
		t.Fatalf("an unreconcilable service got a plan: %s", show(describe(p)))
	}
	if len(p.Problems) != 1 || p.Problems[0].ServiceID != "s1" ||
		!strings.Contains(p.Problems[0].Message, "18446744073709551615 replicas, more than the maximum of 100000") {
		t.Fatalf("problems: %+v", p.Problems)
	}
	reported := *huge
	reported.ReconcileError = p.Problems[0].Message
	if p := Reconcile(Input{Now: t0, Services: []*types.Service{&reported}}); !p.Empty() {
		t.Fatalf("the same report again: %+v", p.Problems)
	}
	scaled := reported
	scaled.Spec.Replicas = 2
	p = Reconcile(Input{Now: t0, Services: []*types.Service{&scaled}, NewID: seqIDs()})
	if len(p.Problems) != 1 || p.Problems[0].Message != "" || len(p.Create) != 2 {
		t.Fatalf("after scaling down: problems %+v, %d creates", p.Problems, len(p.Create))
	}
	if ch := p.Changes(); ch[0].ServiceProblem == nil {
		t.Fatal("Changes() leaves out the problem report")
	}
}

// TestReconcileReplacementsCommitTogether: a plan too big for one command
// keeps every replacement with the stop of the task it replaces, so a
// lost leadership between commands never leaves both meant to run.
func TestReconcileReplacementsCommitTogether(t *testing.T) {
	var in Input
	in.Now, in.NewID = t0, seqIDs()
	in.Nodes = []*types.Node{nd{id: "gone", state: types.NodeDown}.node(), nd{id: "n2"}.node()}
	for s := 1; s <= 3; s++ {
		svc := service(svcOpt{replicas: MaxCreatesPerService})
		svc.ID = fmt.Sprintf("s%d", s)
		in.Services = append(in.Services, svc)
		for i := 1; i <= MaxCreatesPerService; i++ {
			d := tk{id: fmt.Sprintf("s%d-t%d", s, i), svc: svc.ID, slot: uint64(i), node: "gone", desired: run, state: run, created: uint64(i)}
			in.Tasks = append(in.Tasks, d.task())
		}
	}
	p := Reconcile(in)
	if len(p.Create) != 3*MaxCreatesPerService {
		t.Fatalf("%d replacements, want %d", len(p.Create), 3*MaxCreatesPerService)
	}
	cmds := store.BatchGroups(p.Groups())
	if len(cmds) < 2 {
		t.Fatalf("the plan fit one command (%d changes): the test needs more", len(p.Changes()))
	}
	for ci, c := range cmds {
		stopped := map[string]bool{}
		for _, ch := range c.Changes {
			if ch.TaskDesired != nil {
				stopped[ch.TaskDesired.TaskID] = true
			}
		}
		for _, ch := range c.Changes {
			if ch.CreateTask == nil {
				continue
			}
			old := p.replaces[ch.CreateTask.ID]
			if old == "" || !stopped[old] {
				t.Fatalf("command %d creates %s without stopping the task it replaces (%q)", ci, ch.CreateTask.ID, old)
			}
		}
	}
}
