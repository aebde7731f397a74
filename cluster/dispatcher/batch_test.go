package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// slowProposer records the commands it is given, taking a while for each.
type slowProposer struct {
	mu   sync.Mutex
	cmds []*store.Command
	err  error
}

func (p *slowProposer) Propose(ctx context.Context, cmd *store.Command) error {
	time.Sleep(20 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cmds = append(p.cmds, cmd)
	return p.err
}

func report(task string) []store.Change {
	return []store.Change{{TaskStatus: &store.TaskStatusFrom{TaskID: task, NodeID: "n1",
		Status: types.TaskStatus{State: types.TaskRunning}}}}
}

// TestBatcher: reports sent at once are committed in a few commands, every
// change once and in order of arrival within each; each report waits for
// its own command and gets its error; a report bigger than the limit still
// goes; stopping answers the reports left.
func TestBatcher(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{{"commits", nil}, {"a failed commit fails its reports", errors.New("no leader")}} {
		t.Run(tc.name, func(t *testing.T) {
			p := &slowProposer{err: tc.err}
			b := &Batcher{Proposer: p, Max: 30}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); b.Run(ctx) }()
			const reports = 100
			errs := make(chan error, reports)
			var wg sync.WaitGroup
			for i := 0; i < reports; i++ {
				wg.Add(1)
				go func() { defer wg.Done(); errs <- b.Commit(context.Background(), report(fmt.Sprintf("t%03d", i))) }()
			}
			wg.Wait()
			cancel()
			<-done
			close(errs)
			for err := range errs {
				if !errors.Is(err, tc.err) && err != tc.err {
					t.Fatalf("a report got %v, want %v", err, tc.err)
				}
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			seen := map[string]bool{}
			for _, c := range p.cmds {
				if len(c.Changes) > 30 {
					t.Errorf("a command of %d changes, over the limit of 30", len(c.Changes))
				}
				for _, ch := range c.Changes {
					if seen[ch.TaskStatus.TaskID] {
						t.Errorf("%s committed twice", ch.TaskStatus.TaskID)
					}
					seen[ch.TaskStatus.TaskID] = true
				}
			}
			if len(seen) != reports || len(p.cmds) > reports/4 {
				t.Fatalf("%d reports in %d commands (%d changes), want all of them in a few", reports, len(p.cmds), len(seen))
			}
		})
	}
	t.Run("a report over the limit goes alone; stopping fails the rest", func(t *testing.T) {
		p := &slowProposer{}
		b := &Batcher{Proposer: p, Max: 2}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); b.Run(ctx) }()
		big := append(append(report("a"), report("b")...), report("c")...)
		if err := b.Commit(context.Background(), big); err != nil {
			t.Fatal(err)
		}
		cancel()
		<-done
		if err := b.Commit(context.Background(), report("late")); !errors.Is(err, errStopped) {
			t.Fatalf("a report after the batcher stopped: %v, want %v", err, errStopped)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.cmds) != 1 || len(p.cmds[0].Changes) != 3 {
			t.Fatalf("commands %v, want one of 3 changes", p.cmds)
		}
	})
}

// TestLatestPerTask: of a batch, each task's last status change stays, in
// its place.
func TestLatestPerTask(t *testing.T) {
	u := func(task string, st types.TaskState) store.Change {
		return store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: task, NodeID: "n1", Status: types.TaskStatus{State: st}}}
	}
	for _, tc := range []struct {
		name string
		in   []store.Change
		want string
	}{
		{"none", nil, ""},
		{"distinct tasks stay", []store.Change{u("a", types.TaskStarting), u("b", types.TaskRunning)}, "a:STARTING b:RUNNING"},
		{"a task's states collapse to its last", []store.Change{u("a", types.TaskPreparing), u("b", types.TaskStarting),
			u("a", types.TaskStarting), u("a", types.TaskRunning)}, "b:STARTING a:RUNNING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range latestPerTask(tc.in) {
				got = append(got, c.TaskStatus.TaskID+":"+c.TaskStatus.Status.State.String())
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
}
