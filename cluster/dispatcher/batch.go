package dispatcher

import (
	"context"
	"errors"
	"sync"
	"time"

	"sw/cluster/store"
)

// Batcher commits the status reports of many workers as one command:
// while a batch is being committed, the reports that come in gather for
// the next (group commit). At a thousand workers, a command per report
// meant a Raft entry each and, from a follower, a forwarded request each
// (hundreds at once, each on a connection of its own to the leader).
// swarmkit's dispatcher batches its task updates the same way. A report is
// acknowledged only once the command holding it is committed.
type Batcher struct {
	// Proposer commits a batch.
	Proposer store.Proposer
	// Gather is how long a batch waits for more reports once the first
	// is in, when no commit is under way (default 2 ms).
	Gather time.Duration
	// Max bounds the changes in one command (default maxBatch).
	Max int

	mu      sync.Mutex
	pending []store.Change
	waiters []chan error
	sizes   []int // changes per waiting report, in queue order
	kick    chan struct{}
	stopped bool // Run has returned: nothing takes reports any more
}

// maxBatch is the most changes one batch carries: a status change is
// a few hundred bytes, far under the peer API's body limit at this many.
const maxBatch = 4000

// errStopped answers reports still waiting when the batcher stops.
var errStopped = errors.New("dispatcher: the manager is stopping; report again")

func (b *Batcher) init() {
	if b.kick == nil {
		b.kick = make(chan struct{}, 1)
	}
}

// Commit adds changes to the next batch and waits until it is committed
// (its error), or ctx ends. Changes whose wait ended may still commit.
func (b *Batcher) Commit(ctx context.Context, changes []store.Change) error {
	done := make(chan error, 1)
	b.mu.Lock()
	b.init()
	if b.stopped {
		b.mu.Unlock()
		return errStopped
	}
	b.pending = append(b.pending, changes...)
	b.waiters = append(b.waiters, done)
	b.sizes = append(b.sizes, len(changes))
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run commits batches until ctx ends, then fails the reports left.
func (b *Batcher) Run(ctx context.Context) {
	b.mu.Lock()
	b.init()
	kick := b.kick
	b.mu.Unlock()
	gather, limit := b.Gather, b.Max
	if gather <= 0 {
		gather = 2 * time.Millisecond
	}
	if limit <= 0 {
		limit = maxBatch
	}
	defer b.fail(errStopped)
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		t := time.NewTimer(gather)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		for {
			changes, waiters := b.take(limit)
			if len(waiters) == 0 {
				break
			}
			err := b.Proposer.Propose(ctx, &store.Command{Changes: latestPerTask(changes)})
			for _, w := range waiters {
				w <- err
			}
		}
	}
}

// take removes the longest run of whole reports from the head of the
// queue whose changes fit in limit (at least one report).
func (b *Batcher) take(limit int) ([]store.Change, []chan error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 {
		return nil, nil
	}
	k, n := 0, 0
	for k < len(b.sizes) && (k == 0 || n+b.sizes[k] <= limit) {
		n += b.sizes[k]
		k++
	}
	changes := append([]store.Change(nil), b.pending[:n]...)
	waiters := append([]chan error(nil), b.waiters[:k]...)
	b.pending = append(b.pending[:0:0], b.pending[n:]...)
	b.waiters = append(b.waiters[:0:0], b.waiters[k:]...)
	b.sizes = append(b.sizes[:0:0], b.sizes[k:]...)
	return changes, waiters
}

// fail answers every waiting report with err, and every later one: it
// is called as Run returns.
func (b *Batcher) fail(err error) {
	b.mu.Lock()
	waiters := b.waiters
	b.pending, b.waiters, b.sizes = nil, nil, nil
	b.stopped = true
	b.mu.Unlock()
	for _, w := range waiters {
		w <- err
	}
}

// latestPerTask keeps, of a batch of status changes in the order they
// were made, each task's last one (in that one's place): a task that went
// through PREPARING and STARTING to RUNNING since the last batch is
// committed RUNNING once, as swarmkit's agent reports only a task's latest
// status. Each change sets the whole status and the store moves a task
// only forward, so the state committed is the one all of them would give.
// Changes other than status reports are kept as they are.
func latestPerTask(changes []store.Change) []store.Change {
	last := make(map[string]int, len(changes))
	for i, c := range changes {
		if c.TaskStatus != nil {
			last[c.TaskStatus.TaskID] = i
		}
	}
	out := changes[:0:0]
	for i, c := range changes {
		if c.TaskStatus == nil || last[c.TaskStatus.TaskID] == i {
			out = append(out, c)
		}
	}
	return out
}
