package store

import (
	"context"
	"sync"
	"time"
)

// Local commits commands straight into a store, with no Raft: for tests,
// benchmarks and in-process simulations.
type Local struct {
	Store *Store
	// Now gives the command time; time.Now when nil.
	Now func() time.Time

	mu sync.Mutex
}

var _ Proposer = (*Local)(nil)

// Propose applies the command at the next index.
func (l *Local) Propose(ctx context.Context, cmd *Command) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cmd.Time.IsZero() {
		if l.Now != nil {
			cmd.Time = l.Now()
		} else {
			cmd.Time = time.Now().UTC()
		}
	}
	return l.Store.Apply(l.Store.Index()+1, cmd)
}
