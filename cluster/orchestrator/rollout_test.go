package orchestrator

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/types"
)

// rolloutSvc is a service of 3 replicas at spec version 2, updated at
// t0+10s from version 1 (its previous spec), with cfg as its update and
// rollback configuration.
func rolloutSvc(cfg types.UpdateConfig, state types.UpdateState) *types.Service {
	svc := service(svcOpt{replicas: 3, ver: 2})
	prev := svc.Spec
	prev.Container.Image = "nginx:1"
	svc.PreviousSpec, svc.PreviousSpecVersion = &prev, 1
	svc.Spec.Update, svc.Spec.Rollback = &cfg, &cfg
	started := t0.Add(10 * time.Second)
	svc.UpdateStatus = &types.UpdateStatus{State: state, StartedAt: &started}
	return svc
}

func cfgOf(mod func(*types.UpdateConfig)) types.UpdateConfig {
	c := types.DefaultUpdateConfig()
	if mod != nil {
		mod(&c)
	}
	return c
}

// newTk is a task of the rollout: spec version 2, made at t0+11s.
func newTk(id string, slot uint64, state types.TaskState, ran, ended time.Duration) tk {
	return tk{id: id, slot: slot, node: "n1", ver: 2, desired: run, state: state, skew: 11 * time.Second, ran: ran, ended: ended}
}

// rolloutWant is a plan in words, with its rollout decisions: statuses as
// "STATE: message", rollbacks as "from vN: message".
type rolloutWant struct {
	want
	status   string
	rollback string
}

func describeRollout(p Plan) rolloutWant {
	w := rolloutWant{want: describe(p)}
	var st []string
	for _, s := range p.Statuses {
		st = append(st, fmt.Sprintf("%s: %s", s.Status.State, s.Status.Message))
	}
	w.status = strings.Join(st, "; ")
	var rb []string
	for _, r := range p.Rollbacks {
		rb = append(rb, fmt.Sprintf("from v%d: %s", r.FromSpecVersion, r.Message))
	}
	w.rollback = strings.Join(rb, "; ")
	return w
}

func TestReconcileRollout(t *testing.T) {
	outdated := []tk{running("a", 1, "n1"), running("b", 2, "n2"), running("c", 3, "n3")}
	noMonitor := func(c *types.UpdateConfig) { c.Monitor = 0 }
	cases := []struct {
		name  string
		svc   *types.Service
		tasks []tk
		now   time.Duration
		want  rolloutWant
	}{
		{name: "parallelism 2 stops two slots first",
			svc: rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.Parallelism = 2 }), types.UpdateUpdating), tasks: outdated,
			want: rolloutWant{want: want{desire: []string{"a=SHUTDOWN", "b=SHUTDOWN"}}}},
		{name: "parallelism 0 is every slot at once",
			svc: rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.Parallelism = 0 }), types.UpdateUpdating), tasks: outdated,
			want: rolloutWant{want: want{desire: []string{"a=SHUTDOWN", "b=SHUTDOWN", "c=SHUTDOWN"}}}},
		{name: "a new task still starting holds its place",
			svc:   rolloutSvc(cfgOf(nil), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, types.TaskStarting, 0, 0), running("b", 2, "n2"), running("c", 3, "n3")}},
		{name: "a stopping outdated task holds its place (stop-first)",
			svc: rolloutSvc(cfgOf(nil), types.UpdateUpdating),
			tasks: []tk{{id: "a", slot: 1, node: "n1", desired: shut, state: run},
				running("b", 2, "n2"), running("c", 3, "n3")}},
		{name: "the delay holds the place after the new task runs",
			svc:   rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.Delay, c.Monitor = 5*time.Second, 0 }), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, run, 12*time.Second, 0), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   14 * time.Second,
			want:  rolloutWant{want: want{wake: 17 * time.Second}}},
		{name: "once the delay is over the next slot goes",
			svc:   rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.Delay, c.Monitor = 5*time.Second, 0 }), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, run, 12*time.Second, 0), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   18 * time.Second,
			want:  rolloutWant{want: want{desire: []string{"b=SHUTDOWN"}}}},
		{name: "start-first makes the successor beside the old task",
			svc:   rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.Order = types.OrderStartFirst }), types.UpdateUpdating),
			tasks: outdated,
			want:  rolloutWant{want: want{create: []string{"1/@0 v2"}}}},
		{name: "start-first stops the old task once its successor runs, and goes on",
			svc: rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.Order = types.OrderStartFirst }), types.UpdateUpdating),
			tasks: []tk{running("a", 1, "n1"), newTk("n1", 1, run, 12*time.Second, 0),
				running("b", 2, "n2"), running("c", 3, "n3")},
			now:  13 * time.Second,
			want: rolloutWant{want: want{create: []string{"2/@0 v2"}, desire: []string{"a=SHUTDOWN"}, wake: 17 * time.Second}}},
		{name: "start-first: a successor not yet running leaves the old task serving",
			svc: rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.Order = types.OrderStartFirst }), types.UpdateUpdating),
			tasks: []tk{running("a", 1, "n1"), newTk("n1", 1, types.TaskStarting, 0, 0),
				running("b", 2, "n2"), running("c", 3, "n3")}},
		{name: "a new task that fails within the monitor window pauses the update",
			svc:   rolloutSvc(cfgOf(nil), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, types.TaskFailed, 12*time.Second, 13*time.Second), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   13 * time.Second,
			// The failed slot restarts (on the new spec), as Docker's does.
			want: rolloutWant{want: want{create: []string{"1/@1 v2"}, desire: []string{"n1=SHUTDOWN"}},
				status: "paused: update paused due to failure or early termination of task n1"}},
		{name: "a new task that never ran counts as failed",
			svc:   rolloutSvc(cfgOf(nil), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, types.TaskRejected, 0, 12*time.Second), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   13 * time.Second,
			want: rolloutWant{want: want{create: []string{"1/@1 v2"}, desire: []string{"n1=SHUTDOWN"}},
				status: "paused: update paused due to failure or early termination of task n1"}},
		{name: "a failure after the monitor window is a plain restart",
			svc:   rolloutSvc(cfgOf(nil), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, types.TaskFailed, 12*time.Second, 20*time.Second), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   21 * time.Second,
			want:  rolloutWant{want: want{create: []string{"1/@1 v2"}, desire: []string{"n1=SHUTDOWN", "b=SHUTDOWN"}}}},
		{name: "a failure from before the rollout began does not count",
			svc: rolloutSvc(cfgOf(nil), types.UpdateUpdating),
			tasks: []tk{{id: "old", slot: 1, node: "n1", ver: 2, desired: shut, state: types.TaskFailed, ended: 5 * time.Second},
				newTk("n1", 1, types.TaskStarting, 0, 0), running("b", 2, "n2"), running("c", 3, "n3")},
			now: 13 * time.Second},
		{name: "the failure ratio tolerates one failure in three slots at 0.5",
			svc:   rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.MaxFailureRatio = 0.5 }), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, types.TaskFailed, 12*time.Second, 13*time.Second), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   13 * time.Second,
			want:  rolloutWant{want: want{create: []string{"1/@1 v2"}, desire: []string{"n1=SHUTDOWN", "b=SHUTDOWN"}}}},
		{name: "failure action continue goes on",
			svc:   rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.FailureAction = types.FailureContinue }), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, types.TaskFailed, 12*time.Second, 13*time.Second), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   13 * time.Second,
			want:  rolloutWant{want: want{create: []string{"1/@1 v2"}, desire: []string{"n1=SHUTDOWN", "b=SHUTDOWN"}}}},
		{name: "failure action rollback puts the previous spec back",
			svc:   rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.FailureAction = types.FailureRollback }), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, types.TaskFailed, 12*time.Second, 13*time.Second), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   13 * time.Second,
			want: rolloutWant{want: want{create: []string{"1/@1 v2"}, desire: []string{"n1=SHUTDOWN"}},
				rollback: "from v2: update rolled back due to failure or early termination of task n1"}},
		{name: "with no previous spec, rollback pauses instead",
			svc: func() *types.Service {
				s := rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.FailureAction = types.FailureRollback }), types.UpdateUpdating)
				s.PreviousSpec = nil
				return s
			}(),
			tasks: []tk{newTk("n1", 1, types.TaskFailed, 12*time.Second, 13*time.Second), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   13 * time.Second,
			want: rolloutWant{want: want{create: []string{"1/@1 v2"}, desire: []string{"n1=SHUTDOWN"}},
				status: "paused: update paused due to failure or early termination of task n1; there is no previous spec to roll back to"}},
		{name: "a paused update replaces nothing more",
			svc:   rolloutSvc(cfgOf(nil), types.UpdatePaused),
			tasks: []tk{newTk("n1", 1, run, 12*time.Second, 0), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   30 * time.Second},
		{name: "the monitor window holds the completion",
			svc: rolloutSvc(cfgOf(nil), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, run, 12*time.Second, 0), newTk("n2", 2, run, 12*time.Second, 0),
				newTk("n3", 3, run, 13*time.Second, 0)},
			now:  14 * time.Second,
			want: rolloutWant{want: want{wake: 17 * time.Second}}},
		{name: "complete once every new task ran for the monitor window",
			svc: rolloutSvc(cfgOf(nil), types.UpdateUpdating),
			tasks: []tk{newTk("n1", 1, run, 12*time.Second, 0), newTk("n2", 2, run, 12*time.Second, 0),
				newTk("n3", 3, run, 13*time.Second, 0)},
			now:  18 * time.Second,
			want: rolloutWant{status: "completed: update completed"}},
		{name: "a rollback replaces by the rollback config",
			svc: func() *types.Service {
				s := rolloutSvc(cfgOf(noMonitor), types.UpdateRollbackStarted)
				s.SpecVersion, s.PreviousSpecVersion = 1, 2
				rb := cfgOf(func(c *types.UpdateConfig) { c.Parallelism = 0 })
				s.Spec.Rollback = &rb
				return s
			}(),
			tasks: []tk{newTk("n1", 1, run, 12*time.Second, 0), newTk("n2", 2, run, 12*time.Second, 0), newTk("n3", 3, run, 12*time.Second, 0)},
			now:   20 * time.Second,
			want:  rolloutWant{want: want{desire: []string{"n1=SHUTDOWN", "n2=SHUTDOWN", "n3=SHUTDOWN"}}}},
		{name: "a failed rollback pauses as rollback_paused",
			svc: func() *types.Service {
				s := rolloutSvc(cfgOf(nil), types.UpdateRollbackStarted)
				s.SpecVersion, s.PreviousSpecVersion = 1, 2
				return s
			}(),
			tasks: []tk{{id: "r1", slot: 1, node: "n1", desired: run, state: types.TaskFailed, skew: 11 * time.Second,
				ran: 12 * time.Second, ended: 13 * time.Second}, newTk("n2", 2, run, 2*time.Second, 0), newTk("n3", 3, run, 2*time.Second, 0)},
			now: 14 * time.Second,
			want: rolloutWant{want: want{create: []string{"1/@1 v1"}, desire: []string{"r1=SHUTDOWN"}},
				status: "rollback_paused: rollback paused due to failure or early termination of task r1"}},
		{name: "after a rollback, a start-first slot keeps its old task and stops the newer",
			svc: func() *types.Service {
				s := rolloutSvc(cfgOf(func(c *types.UpdateConfig) { c.Order = types.OrderStartFirst }), types.UpdateRollbackStarted)
				s.SpecVersion, s.PreviousSpecVersion = 1, 2
				return s
			}(),
			tasks: []tk{running("a", 1, "n1"), newTk("n1", 1, types.TaskStarting, 0, 0), running("b", 2, "n2"), running("c", 3, "n3")},
			now:   13 * time.Second,
			// Every slot runs the spec gone back to: the rollback is over.
			want: rolloutWant{want: want{desire: []string{"n1=SHUTDOWN"}}, status: "rollback_completed: rollback completed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := reconcileCase{svc: c.svc, nodes: readyNodes("n1", "n2", "n3"), tasks: c.tasks, now: c.now}.input()
			got := describeRollout(Reconcile(in))
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("plan:\n got  %s status=%q rollback=%q\n want %s status=%q rollback=%q",
					show(got.want), got.status, got.rollback, show(c.want.want), c.want.status, c.want.rollback)
			}
		})
	}
}

func TestReconcileRestartWindow(t *testing.T) {
	windowed := func() *types.Service {
		s := service(svcOpt{replicas: 1, maxAttempts: 1})
		s.Spec.Restart.Window = 10 * time.Second
		return s
	}
	failed := func(id string, ended time.Duration, desired types.TaskState) tk {
		return tk{id: id, slot: 1, node: "n1", desired: desired, state: types.TaskFailed, ended: ended, created: uint64(ended / time.Millisecond)}
	}
	runCases(t, []reconcileCase{
		{name: "a second failure within the window: no more restarts",
			svc: windowed(), nodes: readyNodes("n1"), now: 30 * time.Second,
			tasks: []tk{failed("old", 25*time.Second, shut), failed("cur", 29*time.Second, run)},
			want:  want{desire: []string{"cur=SHUTDOWN"}}},
		{name: "the earlier failure fell out of the window: it restarts",
			svc: windowed(), nodes: readyNodes("n1"), now: 30 * time.Second,
			tasks: []tk{failed("old", 5*time.Second, shut), failed("cur", 29*time.Second, run)},
			want:  want{create: []string{"1/@1 v1"}, desire: []string{"cur=SHUTDOWN"}}},
	})
}
