// Package barrier tells a node when its traffic loops — the routing
// mesh's rules and listeners, the virtual IPs and the name server, each a
// loop over the node's copy of the store — have all programmed at least a
// given store index. The agent waits on it before it stops a task that was
// serving: the commit that told the task to stop also took it out of every
// loop's backends, and once each loop applied that commit no new
// connection is sent to the container about to go.
package barrier

import (
	"context"
	"math"
	"sync"
	"time"
)

// Barrier records the index each loop has applied.
type Barrier struct {
	mu      sync.Mutex
	applied map[string]uint64
	// changed is closed (and replaced) at every record.
	changed chan struct{}
}

// New returns a barrier with no loop yet.
func New() *Barrier {
	return &Barrier{applied: map[string]uint64{}, changed: make(chan struct{})}
}

// Applied records that loop has programmed the state at index.
func (b *Barrier) Applied(loop string, index uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if index <= b.applied[loop] {
		return
	}
	b.applied[loop] = index
	close(b.changed)
	b.changed = make(chan struct{})
}

// Done records that loop stopped: it sends nothing anywhere, so it holds
// no wait back.
func (b *Barrier) Done(loop string) { b.Applied(loop, math.MaxUint64) }

// Wait returns once every loop that has recorded anything has applied
// index, or max has passed, or ctx ends; it reports whether every loop
// got there. A loop that never recorded holds nothing back.
func (b *Barrier) Wait(ctx context.Context, index uint64, max time.Duration) bool {
	timer := time.NewTimer(max)
	defer timer.Stop()
	for {
		b.mu.Lock()
		behind := false
		for _, at := range b.applied {
			behind = behind || at < index
		}
		changed := b.changed
		b.mu.Unlock()
		if !behind {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}
