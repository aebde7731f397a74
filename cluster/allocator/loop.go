package allocator

import (
	"context"
	"log/slog"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
	"sw/cluster/watch"
)

// Allocator is the leader-only loop that proposes Plan's changes.
type Allocator struct {
	Store    *store.Store
	Proposer store.Proposer
	Log      *slog.Logger
	// NewID makes network IDs; types.NewID when nil.
	NewID func() string
}

// Run allocates after every commit until ctx ends. A refused proposal (a
// race with an older leader's last writes) is planned again from the new
// state.
func (a *Allocator) Run(ctx context.Context) {
	newID := a.NewID
	if newID == nil {
		newID = types.NewID
	}
	watch.Loop(ctx, a.Store, "allocator", a.Log, func(ctx context.Context, view *store.ReadTx) (time.Time, error) {
		changes, planErr := Plan(view, newID)
		if len(changes) > 0 {
			if err := store.ProposeAll(ctx, a.Proposer, changes); err != nil {
				return time.Time{}, err
			}
		}
		if planErr != nil {
			// Address exhaustion: try again later, as things free up.
			a.Log.Warn("allocation incomplete", "err", planErr)
			return time.Now().Add(5 * time.Second), nil
		}
		return time.Time{}, nil
	})
}
