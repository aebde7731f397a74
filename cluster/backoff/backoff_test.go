package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock fires every timer at once (or never, if stuck) and records
// the delays it was asked for.
type fakeClock struct {
	asked []time.Duration
	stuck bool
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.asked = append(c.asked, d)
	ch := make(chan time.Time, 1)
	if !c.stuck {
		ch <- time.Time{}
	}
	return ch
}

// fixed is a random source that always returns x.
func fixed(x float64) func() float64 { return func() float64 { return x } }

func TestNext(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"zero value: no delay", Backoff{}, []time.Duration{0, 0}},
		{"doubling to the cap", Backoff{Initial: 50 * ms, Max: 300 * ms},
			[]time.Duration{50 * ms, 100 * ms, 200 * ms, 300 * ms, 300 * ms}},
		{"factor 3", Backoff{Initial: ms, Max: time.Second, Factor: 3},
			[]time.Duration{ms, 3 * ms, 9 * ms, 27 * ms}},
		{"fixed interval: max unset", Backoff{Initial: time.Second}, []time.Duration{time.Second, time.Second}},
		{"fixed interval: factor 1", Backoff{Initial: time.Second, Max: time.Minute, Factor: 1},
			[]time.Duration{time.Second, time.Second}},
		{"max below initial", Backoff{Initial: time.Second, Max: ms}, []time.Duration{time.Second, time.Second}},
		{"full jitter, low draw", Backoff{Initial: 100 * ms, Max: time.Second, Jitter: Full, Rand: fixed(0)},
			[]time.Duration{0, 0}},
		{"full jitter, half draw", Backoff{Initial: 100 * ms, Max: time.Second, Jitter: Full, Rand: fixed(0.5)},
			[]time.Duration{50 * ms, 100 * ms, 200 * ms}},
		{"equal jitter, low draw", Backoff{Initial: 100 * ms, Max: time.Second, Jitter: Equal, Rand: fixed(0)},
			[]time.Duration{50 * ms, 100 * ms, 200 * ms}},
		{"equal jitter, half draw", Backoff{Initial: 100 * ms, Jitter: Equal, Rand: fixed(0.5)},
			[]time.Duration{75 * ms, 75 * ms}},
		{"equal jitter at the cap", Backoff{Initial: 400 * ms, Max: 600 * ms, Jitter: Equal, Rand: fixed(0.5)},
			[]time.Duration{300 * ms, 450 * ms, 450 * ms}},
		{"a bad source is clamped", Backoff{Initial: 100 * ms, Jitter: Full, Rand: fixed(7)},
			[]time.Duration{100 * ms}},
		{"a negative source is clamped", Backoff{Initial: 100 * ms, Jitter: Equal, Rand: fixed(-1)},
			[]time.Duration{50 * ms}},
		{"no overflow", Backoff{Initial: time.Hour, Max: 1 << 62, Factor: 1e9},
			[]time.Duration{time.Hour, 1 << 62, 1 << 62}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			for i, want := range tc.want {
				if got := b.Next(); got != want {
					t.Fatalf("delay %d = %v, want %v", i, got, want)
				}
			}
			if b.Attempt() != len(tc.want) {
				t.Fatalf("Attempt() = %d, want %d", b.Attempt(), len(tc.want))
			}
		})
	}
}

// TestJitterBounds draws from the real source: every delay stays in its
// mode's range.
func TestJitterBounds(t *testing.T) {
	const d = time.Second
	for _, tc := range []struct {
		jitter   Jitter
		min, max time.Duration // [min, max]
	}{
		{None, d, d},
		{Full, 0, d},
		{Equal, d / 2, d},
	} {
		t.Run(tc.jitter.String(), func(t *testing.T) {
			b := Backoff{Initial: d, Jitter: tc.jitter}
			for range 1000 {
				if got := b.Next(); got < tc.min || got > tc.max {
					t.Fatalf("delay %v outside [%v, %v]", got, tc.min, tc.max)
				}
			}
		})
	}
}

func TestReset(t *testing.T) {
	b := Backoff{Initial: time.Millisecond, Max: time.Second}
	b.Next()
	b.Next()
	if got := b.Next(); got != 4*time.Millisecond {
		t.Fatalf("third delay = %v", got)
	}
	b.Reset()
	if got := b.Next(); got != time.Millisecond {
		t.Fatalf("delay after Reset = %v, want the initial one", got)
	}
}

func TestWait(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		stuck     bool
		want      error
		wantAsked int
	}{
		{"timer fires", context.Background(), false, nil, 1},
		{"ctx already over", canceled, false, context.Canceled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{stuck: tc.stuck}
			b := Backoff{Initial: time.Second, Clock: clk}
			if err := b.Wait(tc.ctx); !errors.Is(err, tc.want) {
				t.Fatalf("Wait = %v, want %v", err, tc.want)
			}
			if len(clk.asked) != tc.wantAsked {
				t.Fatalf("timers asked: %v", clk.asked)
			}
		})
	}
}

// TestWaitCanceledWhileWaiting: a ctx that ends during the wait ends it.
func TestWaitCanceledWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := Backoff{Initial: time.Hour, Clock: &fakeClock{stuck: true}}
	done := make(chan error, 1)
	go func() { done <- b.Wait(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v", err)
	}
}

func TestRetry(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		failures  int // op fails this many times, then succeeds
		cancelAt  int // the op call (1-based) that cancels ctx; 0: none
		wantCalls int
		wantErrs  []error // what the returned error must match (none: nil)
		wantAsked []time.Duration
	}{
		{name: "first try", failures: 0, wantCalls: 1},
		{name: "third try", failures: 2, wantCalls: 3,
			wantAsked: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{name: "ctx ends after a failure", failures: 100, cancelAt: 2, wantCalls: 2,
			wantErrs:  []error{context.Canceled, errBoom},
			wantAsked: []time.Duration{10 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			clk := &fakeClock{}
			b := Backoff{Initial: 10 * time.Millisecond, Max: time.Second, Clock: clk}
			calls := 0
			err := b.Retry(ctx, func(context.Context) error {
				calls++
				if calls == tc.cancelAt {
					cancel()
				}
				if calls <= tc.failures {
					return errBoom
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Fatalf("op called %d times, want %d", calls, tc.wantCalls)
			}
			if len(tc.wantErrs) == 0 && err != nil {
				t.Fatalf("Retry = %v", err)
			}
			for _, want := range tc.wantErrs {
				if !errors.Is(err, want) {
					t.Fatalf("Retry = %v, want it to wrap %v", err, want)
				}
			}
			if len(clk.asked) != len(tc.wantAsked) {
				t.Fatalf("timers asked: %v, want %v", clk.asked, tc.wantAsked)
			}
			for i := range clk.asked {
				if clk.asked[i] != tc.wantAsked[i] {
					t.Fatalf("timers asked: %v, want %v", clk.asked, tc.wantAsked)
				}
			}
			if err == nil && b.Attempt() != 0 {
				t.Fatalf("schedule not reset after success: attempt %d", b.Attempt())
			}
		})
	}
}

func TestRetryCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{Initial: time.Second, Clock: &fakeClock{}}
	called := false
	err := b.Retry(ctx, func(context.Context) error { called = true; return nil })
	if called || !errors.Is(err, context.Canceled) {
		t.Fatalf("Retry = %v, op called %v", err, called)
	}
}
