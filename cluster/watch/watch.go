// Package watch runs level-triggered reconcile loops over the store: a
// step sees the whole current state, acts, and runs again at the next
// commit, at the time it asked to be woken, or after a failure's backoff.
package watch

import (
	"context"
	"log/slog"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/store"
)

// Step reconciles once. It returns when it wants to run again even if
// nothing changes (zero: only on change) and any error, which is logged
// and retried with backoff.
type Step func(ctx context.Context, view *store.ReadTx) (wakeAt time.Time, err error)

// retrySchedule is how a failed step is retried: from 50 ms, doubling up
// to 2 s, jittered; a step that succeeds starts it again. (A variable, for
// tests to put in a clock of their own.)
var retrySchedule = func() backoff.Backoff {
	return backoff.Backoff{Initial: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: backoff.Equal}
}

// Loop runs step until ctx ends.
func Loop(ctx context.Context, st *store.Store, name string, log *slog.Logger, step Step) {
	LoopEvery(ctx, st, name, log, 0, step)
}

// LoopEvery is Loop that, woken by a commit, lets at least gap pass since
// its last step began: the commits of a busy store are taken in one step,
// for a step whose cost is the state's size, not the change's.
func LoopEvery(ctx context.Context, st *store.Store, name string, log *slog.Logger, gap time.Duration, step Step) {
	retryIn := retrySchedule()
	for {
		changed := st.Changed()
		began := time.Now()
		wake, err := step(ctx, st.View())
		if ctx.Err() != nil {
			return
		}
		var retry <-chan time.Time
		if err != nil {
			d := retryIn.Next()
			log.Warn("reconcile failed; retrying", "loop", name, "err", err, "in", d)
			retry = retryIn.After(d)
		} else {
			retryIn.Reset()
		}
		var timer <-chan time.Time
		if !wake.IsZero() {
			timer = time.After(time.Until(wake))
		}
		if err != nil {
			changed = nil // wait for the backoff, not the next commit
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			if d := time.Until(began.Add(gap)); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		case <-timer:
		case <-retry:
		}
	}
}
