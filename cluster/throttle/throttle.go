// Package throttle limits how often each source (an IP address) may fail:
// a token bucket per source, spent by failures only, so a source that
// keeps failing is turned away while every other source, and a source
// that succeeds, is not slowed at all. The table of sources is bounded.
package throttle

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The join route's settings: 5 failures in a row, then one more every
// 10 s, for up to 4096 sources.
const (
	DefaultBurst      = 5
	DefaultEvery      = 10 * time.Second
	DefaultMaxSources = 4096
)

// Config sets a Limiter up; zero fields take the defaults.
type Config struct {
	// Burst is how many failures a source may have in a row.
	Burst int
	// Every is how often a source earns one more failure once it has
	// spent its burst.
	Every time.Duration
	// MaxSources bounds the table of sources; when it is full, the source
	// that failed longest ago is forgotten (its bucket was the fullest).
	MaxSources int
	// Now is the clock (time.Now unless a test injects one).
	Now func() time.Time
}

// Limiter tracks failures per source. It is safe for concurrent use.
type Limiter struct {
	burst int
	every time.Duration
	max   int
	now   func() time.Time

	mu      sync.Mutex
	sources map[string]*list.Element // of *source
	byLast  *list.List               // front: the latest to fail
}

type source struct {
	key string
	lim *rate.Limiter
}

// New returns a Limiter with the given settings.
func New(c Config) *Limiter {
	l := &Limiter{burst: c.Burst, every: c.Every, max: c.MaxSources, now: c.Now,
		sources: map[string]*list.Element{}, byLast: list.New()}
	if l.burst <= 0 {
		l.burst = DefaultBurst
	}
	if l.every <= 0 {
		l.every = DefaultEvery
	}
	if l.max <= 0 {
		l.max = DefaultMaxSources
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// epsilon absorbs float rounding in the bucket's arithmetic, so that a
// token due at exactly t counts at t.
const epsilon = 1e-9

// Allow reports whether src may try now. When it may not, wait is how long
// until it may. Allow spends nothing: only Fail does.
func (l *Limiter) Allow(src string) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, found := l.sources[src]
	if !found {
		return true, 0
	}
	tokens := e.Value.(*source).lim.TokensAt(l.now())
	if tokens >= 1-epsilon {
		return true, 0
	}
	return false, time.Duration(math.Ceil((1 - tokens) * float64(l.every)))
}

// Fail records a failed attempt by src, and reports whether src has now
// spent its failures (its next attempt will not be allowed).
func (l *Limiter) Fail(src string) (throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e, found := l.sources[src]
	if found {
		l.byLast.MoveToFront(e)
	} else {
		for l.byLast.Len() >= l.max {
			oldest := l.byLast.Back()
			delete(l.sources, oldest.Value.(*source).key)
			l.byLast.Remove(oldest)
		}
		e = l.byLast.PushFront(&source{key: src, lim: rate.NewLimiter(rate.Every(l.every), l.burst)})
		l.sources[src] = e
	}
	lim := e.Value.(*source).lim
	// Always spent, even into debt: failures that raced past Allow
	// together are each paid for.
	lim.ReserveN(now, 1)
	return lim.TokensAt(now) < 1-epsilon
}

// Len is the number of sources tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byLast.Len()
}
