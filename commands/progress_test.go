package commands

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/types"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// taskID makes a 25-character task ID, as types.NewID's, from a short tag.
func taskID(tag string) string {
	return tag + strings.Repeat("0", types.IDLength-len(tag))
}

// tk describes a task for the tests: of service "web" unless service is
// set; slot (0 = global, on node); spec version (1 unless set); desired
// and observed state. It is created at t0 plus age seconds, at log index
// 100+age (so that both orders agree) unless index is set; noIndex leaves
// the log index unknown, as in tasks stored before it was recorded.
type tk struct {
	id      string
	service string
	slot    uint64
	node    string
	version uint64
	desired types.TaskState
	state   types.TaskState
	err     string
	age     int
	index   uint64
	noIndex bool
}

func (k tk) task() *types.Task {
	name := k.service
	if name == "" {
		name = "web"
	}
	v := k.version
	if v == 0 {
		v = 1
	}
	t := &types.Task{ID: taskID(k.id), ServiceID: "svc-" + name, ServiceName: name, Slot: k.slot, NodeID: k.node,
		SpecVersion: v, DesiredState: k.desired,
		Status: types.TaskStatus{State: k.state, Err: k.err, Timestamp: t0.Add(time.Duration(k.age) * time.Second)}}
	t.CreatedAt = t0.Add(time.Duration(k.age) * time.Second)
	switch {
	case k.index != 0:
		t.CreatedIndex = k.index
	case !k.noIndex:
		t.CreatedIndex = uint64(100 + k.age)
	}
	return t
}

func tasksOf(ks ...tk) []*types.Task {
	out := make([]*types.Task, len(ks))
	for i, k := range ks {
		out[i] = k.task()
	}
	return out
}

func replicated(n uint64, cond types.RestartCondition) *types.Service {
	return &types.Service{ID: "svc-web", SpecVersion: 1, Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated,
		Replicas: n, Container: types.ContainerSpec{Image: "nginx"}, Restart: types.RestartPolicy{Condition: cond}}}
}

func global(cond types.RestartCondition) *types.Service {
	s := replicated(0, cond)
	s.Spec.Mode = types.ModeGlobal
	return s
}

const (
	running  = types.TaskRunning
	starting = types.TaskStarting
	shutdown = types.TaskShutdown
	remove   = types.TaskRemove
	failed   = types.TaskFailed
	rejected = types.TaskRejected
	complete = types.TaskComplete
)

func TestAssess(t *testing.T) {
	updated := replicated(3, types.RestartAny)
	updated.SpecVersion = 2
	maxTwo := replicated(1, types.RestartAny)
	maxTwo.Spec.Restart.MaxAttempts = 1
	tests := []struct {
		name        string
		svc         *types.Service
		tasks       []tk
		before      []string // IDs (tags) of tasks already stopped at the start
		wantDone    bool
		wantRunning int
		wantStates  []string
		wantErr     []string // substrings; nil when no error is expected
	}{
		{name: "all running", svc: replicated(3, types.RestartAny),
			tasks: []tk{{id: "a", slot: 1, desired: running, state: running},
				{id: "b", slot: 2, desired: running, state: running},
				{id: "c", slot: 3, desired: running, state: running}},
			wantDone: true, wantRunning: 3, wantStates: []string{"running", "running", "running"}},
		{name: "one starting", svc: replicated(3, types.RestartAny),
			tasks: []tk{{id: "a", slot: 1, desired: running, state: running},
				{id: "b", slot: 2, desired: running, state: starting},
				{id: "c", slot: 3, desired: running, state: running}},
			wantRunning: 2, wantStates: []string{"running", "starting", "running"}},
		{name: "missing slot shows new", svc: replicated(2, types.RestartAny),
			tasks:       []tk{{id: "a", slot: 1, desired: running, state: running}},
			wantRunning: 1, wantStates: []string{"running", "new"}},
		{name: "zero replicas, nothing left", svc: replicated(0, types.RestartAny),
			tasks:    []tk{{id: "a", slot: 1, desired: remove, state: shutdown}},
			wantDone: true, wantStates: nil},
		{name: "scaled down task still running", svc: replicated(2, types.RestartAny),
			tasks: []tk{{id: "a", slot: 1, desired: running, state: running},
				{id: "b", slot: 2, desired: running, state: running},
				{id: "c", slot: 3, desired: remove, state: running}},
			wantRunning: 2, wantStates: []string{"running", "running"}},
		{name: "scaled down task stopped", svc: replicated(2, types.RestartAny),
			tasks: []tk{{id: "a", slot: 1, desired: running, state: running},
				{id: "b", slot: 2, desired: running, state: running},
				{id: "c", slot: 3, desired: remove, state: shutdown}},
			wantDone: true, wantRunning: 2, wantStates: []string{"running", "running"}},
		{name: "old spec running while new starts", svc: updated,
			tasks: []tk{{id: "a", slot: 1, version: 2, desired: running, state: running},
				{id: "b", slot: 2, version: 2, desired: running, state: running},
				{id: "c", slot: 3, version: 1, desired: shutdown, state: running, age: 1},
				{id: "d", slot: 3, version: 2, desired: running, state: starting, age: 2}},
			wantRunning: 2, wantStates: []string{"running", "running", "starting"}},
		{name: "old spec still desired running, not yet replaced", svc: updated,
			tasks: []tk{{id: "a", slot: 1, version: 2, desired: running, state: running},
				{id: "b", slot: 2, version: 2, desired: running, state: running},
				{id: "c", slot: 3, version: 1, desired: running, state: running}},
			wantRunning: 2, wantStates: []string{"running", "running", "new"}},
		{name: "update complete", svc: updated,
			tasks: []tk{{id: "a", slot: 1, version: 2, desired: running, state: running},
				{id: "b", slot: 2, version: 2, desired: running, state: running},
				{id: "c", slot: 3, version: 1, desired: shutdown, state: shutdown, age: 1},
				{id: "d", slot: 3, version: 2, desired: running, state: running, age: 2}},
			wantDone: true, wantRunning: 3, wantStates: []string{"running", "running", "running"}},
		{name: "three new failures give up with the last error", svc: replicated(1, types.RestartAny),
			tasks: []tk{{id: "c", slot: 1, desired: shutdown, state: failed, err: "first", age: 1},
				{id: "a", slot: 1, desired: shutdown, state: rejected, err: "second", age: 2},
				{id: "b", slot: 1, desired: running, state: failed, err: "third", age: 3},
			},
			wantStates: []string{"failed"},
			wantErr:    []string{"service web did not converge", "3 new task(s) failed", "last: task b00000000000 (web.1): third"}},
		{name: "failure without an error message names the state", svc: replicated(1, types.RestartAny),
			tasks: []tk{{id: "a", slot: 1, desired: shutdown, state: failed, age: 1},
				{id: "b", slot: 1, desired: shutdown, state: failed, age: 2},
				{id: "c", slot: 1, desired: running, state: rejected, age: 3}},
			wantStates: []string{"rejected"}, wantErr: []string{"(web.1): Rejected"}},
		{name: "two failures keep waiting", svc: replicated(1, types.RestartAny),
			tasks: []tk{{id: "a", slot: 1, desired: shutdown, state: failed, err: "boom", age: 1},
				{id: "b", slot: 1, desired: shutdown, state: failed, err: "boom", age: 2},
				{id: "c", slot: 1, desired: running, state: starting, age: 3}},
			wantStates: []string{"starting"}},
		{name: "one failure with restart none gives up", svc: replicated(2, types.RestartNone),
			tasks: []tk{{id: "a", slot: 1, desired: running, state: running},
				{id: "b", slot: 2, desired: running, state: failed, err: "exit 1"}},
			wantRunning: 1, wantStates: []string{"running", "failed"},
			wantErr: []string{"1 new task(s) failed", "exit 1"}},
		{name: "failures beyond max attempts give up", svc: maxTwo,
			tasks: []tk{{id: "a", slot: 1, desired: shutdown, state: failed, err: "x", age: 1},
				{id: "b", slot: 1, desired: shutdown, state: failed, err: "y", age: 2}},
			wantStates: []string{"new"}, wantErr: []string{"2 new task(s) failed", "y"}},
		{name: "failures from before are not counted", svc: replicated(1, types.RestartAny),
			tasks: []tk{{id: "a", slot: 1, desired: shutdown, state: failed, err: "old", age: 1},
				{id: "b", slot: 1, desired: shutdown, state: failed, err: "old", age: 2},
				{id: "c", slot: 1, desired: shutdown, state: failed, err: "old", age: 3},
				{id: "d", slot: 1, desired: running, state: starting, age: 4}},
			before:     []string{"a", "b", "c"},
			wantStates: []string{"starting"}},
		{name: "failures do not matter once converged", svc: replicated(1, types.RestartAny),
			tasks: []tk{{id: "a", slot: 1, desired: shutdown, state: failed, age: 1},
				{id: "b", slot: 1, desired: shutdown, state: failed, age: 2},
				{id: "c", slot: 1, desired: shutdown, state: failed, age: 3},
				{id: "d", slot: 1, desired: running, state: running, age: 4}},
			wantDone: true, wantRunning: 1, wantStates: []string{"running"}},
		{name: "one-shot complete, on-failure, desired still running", svc: replicated(1, types.RestartOnFailure),
			tasks:    []tk{{id: "a", slot: 1, desired: running, state: complete}},
			wantDone: true, wantStates: []string{"complete"}},
		{name: "one-shot complete, on-failure, kept down by the orchestrator", svc: replicated(1, types.RestartOnFailure),
			tasks:    []tk{{id: "a", slot: 1, desired: shutdown, state: complete}},
			wantDone: true, wantStates: []string{"complete"}},
		{name: "one-shot complete, restart none, kept down", svc: replicated(2, types.RestartNone),
			tasks: []tk{{id: "a", slot: 1, desired: shutdown, state: complete},
				{id: "b", slot: 2, desired: running, state: running}},
			wantDone: true, wantRunning: 1, wantStates: []string{"complete", "running"}},
		{name: "one-shot after a failure, restarted and completed", svc: replicated(1, types.RestartOnFailure),
			tasks: []tk{{id: "a", slot: 1, desired: shutdown, state: failed, err: "x", age: 1},
				{id: "b", slot: 1, desired: shutdown, state: complete, age: 2}},
			wantDone: true, wantStates: []string{"complete"}},
		{name: "complete with restart any is not done", svc: replicated(1, types.RestartAny),
			tasks:      []tk{{id: "a", slot: 1, desired: running, state: complete}},
			wantStates: []string{"complete"}},
		{name: "complete and shut down with restart any is not the slot's task", svc: replicated(1, types.RestartAny),
			tasks:      []tk{{id: "a", slot: 1, desired: shutdown, state: complete}},
			wantStates: []string{"new"}},
		{name: "old-spec one-shot complete does not count", svc: func() *types.Service {
			s := replicated(1, types.RestartNone)
			s.SpecVersion = 2
			return s
		}(),
			tasks:      []tk{{id: "a", slot: 1, version: 1, desired: shutdown, state: complete}},
			wantStates: []string{"new"}},
		{name: "newest task of a slot wins", svc: replicated(1, types.RestartAny),
			tasks: []tk{{id: "b", slot: 1, desired: running, state: running, age: 2},
				{id: "a", slot: 1, desired: running, state: starting, age: 5}},
			wantStates: []string{"starting"}},
		{name: "newest by log index even when the clock went back", svc: replicated(1, types.RestartAny),
			// b was created first, by a leader whose clock was ahead.
			tasks: []tk{{id: "a", slot: 1, desired: running, state: running, age: 2, index: 20},
				{id: "b", slot: 1, desired: shutdown, state: shutdown, age: 9, index: 10},
				{id: "c", slot: 1, desired: running, state: failed, age: 9, index: 10}},
			wantStates: []string{"running"}, wantDone: true, wantRunning: 1},
		{name: "global counts live tasks", svc: global(types.RestartAny),
			tasks: []tk{{id: "a", node: "n1", desired: running, state: running},
				{id: "b", node: "n2", desired: running, state: starting},
				{id: "c", node: "n3", desired: shutdown, state: shutdown}},
			wantRunning: 1, wantStates: []string{"running", "starting"}},
		{name: "global all running", svc: global(types.RestartAny),
			tasks: []tk{{id: "b", node: "n2", desired: running, state: running},
				{id: "a", node: "n1", desired: running, state: running}},
			wantDone: true, wantRunning: 2, wantStates: []string{"running", "running"}},
		{name: "global one node's replacement counts once", svc: global(types.RestartAny),
			tasks: []tk{{id: "a", node: "n1", desired: running, state: failed, age: 1},
				{id: "b", node: "n1", desired: running, state: running, age: 2},
				{id: "c", node: "n2", desired: running, state: running}},
			wantDone: true, wantRunning: 2, wantStates: []string{"running", "running"}},
		{name: "global before its tasks are made waits", svc: global(types.RestartAny),
			tasks: nil, wantStates: nil},
		{name: "global update waits for every node", svc: func() *types.Service {
			s := global(types.RestartAny)
			s.SpecVersion = 2
			return s
		}(),
			tasks: []tk{{id: "a", node: "n1", version: 2, desired: running, state: running, age: 2},
				{id: "b", node: "n1", version: 1, desired: shutdown, state: shutdown, age: 1},
				{id: "c", node: "n2", version: 1, desired: running, state: running},
				{id: "d", node: "n3", version: 1, desired: running, state: running}},
			wantRunning: 1, wantStates: []string{"running", "new", "new"}},
		{name: "global update, old task still stopping", svc: func() *types.Service {
			s := global(types.RestartAny)
			s.SpecVersion = 2
			return s
		}(),
			tasks: []tk{{id: "a", node: "n1", version: 2, desired: running, state: running, age: 2},
				{id: "b", node: "n2", version: 1, desired: shutdown, state: running, age: 1}},
			wantRunning: 1, wantStates: []string{"running"}},
		{name: "global, restart none, failed and kept down", svc: global(types.RestartNone),
			tasks:   []tk{{id: "a", node: "n1", desired: shutdown, state: failed, err: "exit 2"}},
			wantErr: []string{"1 new task(s) failed", "exit 2"}},
		{name: "global one-shot complete", svc: global(types.RestartNone),
			tasks: []tk{{id: "a", node: "n1", desired: shutdown, state: complete},
				{id: "b", node: "n2", desired: running, state: running}},
			wantDone: true, wantRunning: 1, wantStates: []string{"complete", "running"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tasks := tasksOf(tt.tasks...)
			before := map[string]bool{}
			for _, id := range tt.before {
				before[taskID(id)] = true
			}
			cv := assess(tt.svc, tasks, before)
			if cv.done != tt.wantDone {
				t.Errorf("done = %v, want %v", cv.done, tt.wantDone)
			}
			if cv.running != tt.wantRunning {
				t.Errorf("running = %d, want %d", cv.running, tt.wantRunning)
			}
			var states, labels []string
			for i, s := range cv.slots {
				states = append(states, s.state)
				labels = append(labels, s.label)
				if want := fmt.Sprintf("%d/%d", i+1, len(cv.slots)); s.label != want {
					t.Errorf("slot %d label %q, want %q", i, s.label, want)
				}
			}
			if !reflect.DeepEqual(states, tt.wantStates) {
				t.Errorf("slot states %q, want %q", states, tt.wantStates)
			}
			switch {
			case tt.wantErr == nil && cv.err != nil:
				t.Errorf("unexpected error: %v", cv.err)
			case tt.wantErr != nil && cv.err == nil:
				t.Errorf("no error, want one containing %q", tt.wantErr)
			case tt.wantErr != nil:
				for _, w := range tt.wantErr {
					if !strings.Contains(cv.err.Error(), w) {
						t.Errorf("error %q does not contain %q", cv.err, w)
					}
				}
			}
		})
	}
}

// The last failure is the newest one, whatever order the tasks come in
// (the API returns them ordered by ID).
func TestAssessLastErrorIsNewest(t *testing.T) {
	ks := []tk{{id: "a", slot: 1, desired: shutdown, state: failed, err: "newest", age: 3},
		{id: "b", slot: 1, desired: shutdown, state: failed, err: "middle", age: 2},
		{id: "c", slot: 1, desired: running, state: failed, err: "oldest", age: 1}}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}} {
		var in []tk
		for _, i := range order {
			in = append(in, ks[i])
		}
		cv := assess(replicated(1, types.RestartAny), tasksOf(in...), nil)
		if cv.err == nil || !strings.Contains(cv.err.Error(), "last: task a00000000000 (web.1): newest") {
			t.Errorf("order %v: error %v, want the newest failure named", order, cv.err)
		}
	}
}

func TestProgressShowPlain(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, last: map[string]string{}}
	step := func(running int, states ...string) string {
		t.Helper()
		buf.Reset()
		cv := convergence{running: running}
		for i, s := range states {
			cv.slots = append(cv.slots, slotView{label: fmt.Sprintf("%d/%d", i+1, len(states)), state: s})
		}
		p.show(cv)
		return buf.String()
	}
	if got, want := step(0, "new", "new"), "overall progress: 0 out of 2 tasks\n1/2: new\n2/2: new\n"; got != want {
		t.Errorf("first show:\n got %q\nwant %q", got, want)
	}
	if got := step(0, "new", "new"); got != "" {
		t.Errorf("nothing changed, yet printed %q", got)
	}
	if got, want := step(0, "starting", "new"), "1/2: starting\n"; got != want {
		t.Errorf("one slot changed:\n got %q\nwant %q", got, want)
	}
	if got, want := step(1, "running", "new"), "overall progress: 1 out of 2 tasks\n1/2: running\n"; got != want {
		t.Errorf("progress changed:\n got %q\nwant %q", got, want)
	}
	if got, want := step(2, "running", "running"), "overall progress: 2 out of 2 tasks\n2/2: running\n"; got != want {
		t.Errorf("last slot:\n got %q\nwant %q", got, want)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Errorf("escape sequences on a non-terminal: %q", buf.String())
	}
	buf.Reset()
	p.finish()
	if got := buf.String(); got != "verify: Service converged\n" {
		t.Errorf("finish printed %q", got)
	}
}

func TestProgressShowQuiet(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, quiet: true, last: map[string]string{}}
	p.show(convergence{running: 1, slots: []slotView{{label: "1/1", state: "running"}}})
	p.finish()
	if buf.Len() != 0 {
		t.Errorf("quiet progress printed %q", buf.String())
	}
}

func TestProgressShowTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, last: map[string]string{}}
	cv := convergence{running: 1, slots: []slotView{{label: "1/2", state: "running"}, {label: "2/2", state: "new"}}}
	p.show(cv)
	first := buf.String()
	if strings.Contains(first, "\x1b[3A") {
		t.Errorf("first draw moved the cursor up: %q", first)
	}
	if !strings.Contains(first, "overall progress: 1 out of 2 tasks\n") || !strings.Contains(first, "1/2: running") {
		t.Errorf("first draw %q", first)
	}
	buf.Reset()
	p.show(cv)
	if !strings.HasPrefix(buf.String(), "\x1b[3A") {
		t.Errorf("redraw does not move up over the 3 lines drawn: %q", buf.String())
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		state string
		fill  int
	}{
		{"new", 7}, {"starting", 42}, {"running", 50}, {"failed", 0}, {"", 0},
	}
	for _, tt := range tests {
		got := bar(tt.state)
		want := "[" + strings.Repeat("=", tt.fill) + ">" + strings.Repeat(" ", 50-tt.fill) + "]"
		if got != want {
			t.Errorf("bar(%q) = %q, want %q", tt.state, got, want)
		}
	}
}
