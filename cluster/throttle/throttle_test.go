package throttle

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for the Limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// step is one event at an offset from the start: a failure (fail) or a
// check (allow) by a source, with what it should report.
type step struct {
	at        time.Duration
	src       string
	fail      bool          // Fail instead of Allow
	throttled bool          // Fail's answer
	ok        bool          // Allow's answer
	wait      time.Duration // Allow's wait when not ok
}

func TestLimiter(t *testing.T) {
	a, b := "192.0.2.1", "192.0.2.2"
	fails := func(src string, at time.Duration, n int) []step {
		var out []step
		for i := range n {
			out = append(out, step{at: at, src: src, fail: true, throttled: i == n-1})
		}
		return out
	}
	cat := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"an unknown source may try", []step{{src: a, ok: true}}},
		{"four failures leave one try", cat(
			[]step{{src: a, fail: true}, {src: a, fail: true}, {src: a, fail: true}, {src: a, fail: true}},
			[]step{{src: a, ok: true}})},
		{"the fifth failure throttles, for 10 s", cat(fails(a, 0, 5),
			[]step{{src: a, ok: false, wait: 10 * time.Second}, {at: 4 * time.Second, src: a, ok: false, wait: 6 * time.Second},
				{at: 10 * time.Second, src: a, ok: true}})},
		{"then one more failure every 10 s", cat(fails(a, 0, 5),
			[]step{{at: 10 * time.Second, src: a, ok: true}, {at: 10 * time.Second, src: a, fail: true, throttled: true},
				{at: 19 * time.Second, src: a, ok: false, wait: time.Second}, {at: 20 * time.Second, src: a, ok: true}})},
		{"a quiet source earns its burst back", cat(fails(a, 0, 5), fails(a, 50*time.Second, 5),
			[]step{{at: 50 * time.Second, src: a, ok: false, wait: 10 * time.Second}})},
		{"the burst is not exceeded by a long quiet", cat(fails(a, 0, 5), fails(a, time.Hour, 5),
			[]step{{at: time.Hour, src: a, ok: false, wait: 10 * time.Second}})},
		{"other sources are not slowed", cat(fails(a, 0, 5),
			[]step{{src: b, ok: true}, {src: b, fail: true}, {src: b, ok: true}, {src: a, ok: false, wait: 10 * time.Second}})},
		{"failures raced past Allow are each paid for", cat(fails(a, 0, 5),
			[]step{{src: a, fail: true, throttled: true}, {src: a, ok: false, wait: 20 * time.Second}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			c := &clock{t: start}
			l := New(Config{Now: c.now})
			for i, s := range tt.steps {
				c.t = start.Add(s.at)
				if s.fail {
					if got := l.Fail(s.src); got != s.throttled {
						t.Fatalf("step %d: Fail(%s) at %s = %v, want %v", i, s.src, s.at, got, s.throttled)
					}
					continue
				}
				ok, wait := l.Allow(s.src)
				if ok != s.ok || wait != s.wait {
					t.Fatalf("step %d: Allow(%s) at %s = %v, %s; want %v, %s", i, s.src, s.at, ok, wait, s.ok, s.wait)
				}
			}
		})
	}
}

// The table never holds more than MaxSources; the source that failed
// longest ago goes first.
func TestLimiterBounded(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{t: start}
	l := New(Config{Burst: 1, Every: time.Minute, MaxSources: 3, Now: c.now})
	for i := range 3 {
		l.Fail(fmt.Sprintf("s%d", i))
	}
	c.t = start.Add(time.Second)
	l.Fail("s0") // s0 failed last now: s1 is the oldest
	l.Fail("s3")
	if n := l.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	for src, want := range map[string]bool{"s0": false, "s1": true, "s2": false, "s3": false} {
		if ok, _ := l.Allow(src); ok != want {
			t.Errorf("Allow(%s) = %v, want %v (s1 forgotten, the rest throttled)", src, ok, want)
		}
	}
	for i := range 10000 {
		l.Fail(fmt.Sprintf("flood%d", i))
	}
	if n := l.Len(); n != 3 {
		t.Errorf("after a flood of sources Len = %d, want 3", n)
	}
}

func TestLimiterDefaults(t *testing.T) {
	l := New(Config{})
	if l.burst != DefaultBurst || l.every != DefaultEvery || l.max != DefaultMaxSources || l.now == nil {
		t.Errorf("defaults: burst %d every %s max %d", l.burst, l.every, l.max)
	}
}

// Concurrent use is safe (run with -race) and every failure counts.
func TestLimiterConcurrent(t *testing.T) {
	c := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Config{Burst: 100, Every: time.Hour, Now: c.now})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				l.Allow("x")
				l.Fail("x")
			}
		}()
	}
	wg.Wait()
	if ok, wait := l.Allow("x"); ok || wait != time.Hour {
		t.Errorf("after 100 failures of a burst of 100: Allow = %v, %s; want false, 1h", ok, wait)
	}
}
