// Package backoff is the one retry schedule of sw: a delay that starts at
// Initial, grows by Factor after each failure up to Max, and is jittered
// so that a thousand nodes that failed at the same moment (a manager
// restarted under them) do not all come back at the same moment too.
//
// A Backoff is a value holding its policy and how many delays it has
// handed out; a loop keeps one, calls Next (or Wait, After, Retry) after a
// failure and Reset after a success:
//
//	b := backoff.Backoff{Initial: time.Second, Max: 30 * time.Second, Jitter: backoff.Equal}
//	for {
//		if err := try(ctx); err == nil {
//			b.Reset()
//			...
//		}
//		if b.Wait(ctx) != nil {
//			return
//		}
//	}
//
// With Max left zero the delay stays Initial: a fixed retry interval, still
// jittered. The random source and the clock can be injected, so tests see
// fixed delays and need no sleeps.
package backoff

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Jitter says how a delay d is randomised.
type Jitter int

const (
	// None keeps d as it is.
	None Jitter = iota
	// Full draws the delay uniformly from [0, d): the best spread, but a
	// retry may come at once.
	Full
	// Equal draws the delay uniformly from [d/2, d): half the spread of
	// Full, and never less than half of d.
	Equal
)

// String names the jitter mode.
func (j Jitter) String() string {
	switch j {
	case None:
		return "none"
	case Full:
		return "full"
	case Equal:
		return "equal"
	}
	return fmt.Sprintf("Jitter(%d)", int(j))
}

// Clock makes the timers a Backoff waits on.
type Clock interface {
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// realClock is the wall clock: time.After.
type realClock struct{}

func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// DefaultFactor is the growth factor of a Backoff whose Factor is unset.
const DefaultFactor = 2

// Backoff is a retry schedule and its progress along it. The zero value
// has no delay at all; set Initial. A Backoff is not safe for concurrent
// use: each loop keeps its own.
type Backoff struct {
	// Initial is the delay before the first retry (before jitter).
	Initial time.Duration
	// Max caps the delay (before jitter). Below Initial (zero, say), the
	// delay stays Initial: a fixed interval.
	Max time.Duration
	// Factor multiplies the delay after each retry; zero or less means
	// DefaultFactor, 1 a fixed interval.
	Factor float64
	// Jitter randomises each delay (None unless set).
	Jitter Jitter
	// Rand returns a number in [0, 1) for the jitter; nil is math/rand/v2's
	// Float64.
	Rand func() float64
	// Clock makes the timers of After, Wait and Retry; nil is the wall
	// clock.
	Clock Clock

	attempt int // delays handed out since the last Reset
}

// Next returns the delay before the next retry and moves along the
// schedule.
func (b *Backoff) Next() time.Duration {
	d := b.base(b.attempt)
	if b.attempt < math.MaxInt {
		b.attempt++
	}
	return b.jitter(d)
}

// Reset starts the schedule again from Initial: call it after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Attempt returns how many delays Next has handed out since the last
// Reset.
func (b *Backoff) Attempt() int { return b.attempt }

// After returns a channel that receives once d has passed, on b's clock:
// for a loop that waits on other channels too, with d from Next.
func (b *Backoff) After(d time.Duration) <-chan time.Time {
	if b.Clock == nil {
		return realClock{}.After(d)
	}
	return b.Clock.After(d)
}

// Wait waits out the next delay; it returns ctx's error if ctx ends
// first, nil otherwise.
func (b *Backoff) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.After(b.Next()):
		return nil
	}
}

// Retry calls op until it succeeds, waiting the next delay after each
// failure, and returns nil once it has. If ctx ends first it returns ctx's
// error, wrapping op's last one too if op ran and failed. The schedule is
// Reset on success. op should log its own failures if they matter.
func (b *Backoff) Retry(ctx context.Context, op func(context.Context) error) error {
	var last error
	for {
		if err := ctx.Err(); err != nil {
			return wrapLast(err, last)
		}
		if last = op(ctx); last == nil {
			b.Reset()
			return nil
		}
		if err := b.Wait(ctx); err != nil {
			return wrapLast(err, last)
		}
	}
}

func wrapLast(ctxErr, last error) error {
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w (last error: %w)", ctxErr, last)
}

// base is the delay of the given attempt before jitter: Initial·Factor^n,
// capped at Max.
func (b *Backoff) base(n int) time.Duration {
	if b.Initial <= 0 {
		return 0
	}
	limit := b.Max
	if limit < b.Initial {
		return b.Initial
	}
	f := b.Factor
	if f <= 0 {
		f = DefaultFactor
	}
	if f <= 1 {
		return b.Initial
	}
	d := float64(b.Initial) * math.Pow(f, float64(n))
	if math.IsInf(d, 0) || math.IsNaN(d) || d >= float64(limit) {
		return limit
	}
	return time.Duration(d)
}

func (b *Backoff) jitter(d time.Duration) time.Duration {
	if d <= 0 || b.Jitter == None {
		return d
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	x := min(max(r(), 0), 1) // a bad source must not make a delay negative or larger than d
	switch b.Jitter {
	case Full:
		return time.Duration(x * float64(d))
	case Equal:
		half := d / 2
		return half + time.Duration(x*float64(d-half))
	}
	return d
}
