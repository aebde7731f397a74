package watch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/store"
	"sw/cluster/types"
)

// clock fires every timer at once and records the delays asked for.
type clock struct {
	mu    sync.Mutex
	asked []time.Duration
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.asked = append(c.asked, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func (c *clock) delays() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration{}, c.asked...)
}

// result is what one run of the test's step returns.
type result struct {
	wake time.Time
	err  error
}

var errStep = errors.New("step failed")

func TestLoop(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name string
		// steps are the step's results, in order; once they are used up,
		// the step blocks the test until ctx ends.
		steps []result
		// commit applies a command after this many runs (0: never).
		commit     int
		wantDelays []time.Duration
	}{
		{name: "runs once, then waits for a commit", steps: []result{{}}},
		{name: "runs again at a commit", steps: []result{{}, {}}, commit: 1},
		{name: "runs again when it asked", steps: []result{{wake: time.Now()}, {}}},
		{name: "failures back off, doubling", steps: []result{{err: errStep}, {err: errStep}, {err: errStep}, {}},
			wantDelays: []time.Duration{50 * ms, 100 * ms, 200 * ms}},
		{name: "a success starts the schedule again",
			steps:      []result{{err: errStep}, {err: errStep}, {wake: time.Now()}, {err: errStep}, {}},
			wantDelays: []time.Duration{50 * ms, 100 * ms, 50 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{}
			old := retrySchedule
			retrySchedule = func() backoff.Backoff {
				return backoff.Backoff{Initial: 50 * ms, Max: 2 * time.Second, Clock: clk}
			}
			defer func() { retrySchedule = old }()
			st := store.New()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ran := make(chan int)
			done := make(chan struct{})
			runs := 0
			go func() {
				defer close(done)
				Loop(ctx, st, "test", slog.New(slog.DiscardHandler), func(ctx context.Context, _ *store.ReadTx) (time.Time, error) {
					runs++
					select {
					case ran <- runs:
					case <-ctx.Done():
						return time.Time{}, ctx.Err()
					}
					if runs > len(tc.steps) {
						<-ctx.Done()
						return time.Time{}, ctx.Err()
					}
					r := tc.steps[runs-1]
					return r.wake, r.err
				})
			}()
			for i := 1; i <= len(tc.steps); i++ {
				if got := <-ran; got != i {
					t.Fatalf("run %d, want %d", got, i)
				}
				if i == tc.commit {
					cmd := &store.Command{Changes: []store.Change{{PutCluster: &types.Cluster{ID: "c"}}}}
					if err := st.Apply(1, cmd); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The step is not run again unasked: no commit, no wake time.
			select {
			case n := <-ran:
				if n <= len(tc.steps) {
					t.Fatalf("unexpected run %d", n)
				}
				t.Fatalf("run %d: the loop did not wait", n)
			case <-time.After(20 * ms):
			}
			cancel()
			<-done
			got := clk.delays()
			if len(got) != len(tc.wantDelays) {
				t.Fatalf("retry delays %v, want %v", got, tc.wantDelays)
			}
			for i := range got {
				if got[i] != tc.wantDelays[i] {
					t.Fatalf("retry delays %v, want %v", got, tc.wantDelays)
				}
			}
		})
	}
}

// TestLoopEvery: woken by commits that come faster than its gap, the loop
// takes them together, a step per gap, and the last commit still gets a
// step.
func TestLoopEvery(t *testing.T) {
	st := store.New()
	var mu sync.Mutex
	var seen []uint64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		LoopEvery(ctx, st, "test", slog.New(slog.DiscardHandler), 100*time.Millisecond, func(_ context.Context, v *store.ReadTx) (time.Time, error) {
			mu.Lock()
			seen = append(seen, v.Index)
			mu.Unlock()
			return time.Time{}, nil
		})
	}()
	const commits = 40
	for i := 1; i <= commits; i++ {
		if err := st.Apply(uint64(i), &store.Command{Time: time.Now(), Changes: []store.Change{
			{PutNode: &types.Node{ID: "n1", Hostname: "h"}}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		last := uint64(0)
		if len(seen) > 0 {
			last = seen[len(seen)-1]
		}
		mu.Unlock()
		if last == commits || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[len(seen)-1] != commits {
		t.Fatalf("steps saw %v, want the last at index %d", seen, commits)
	}
	// ~200 ms of commits at a 100 ms gap: a handful of steps, not 40.
	if len(seen) > 8 {
		t.Fatalf("%d steps for %d commits 5 ms apart at a 100 ms gap: %v", len(seen), commits, seen)
	}
}
