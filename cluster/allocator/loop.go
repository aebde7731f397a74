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
	// Avoid, if set, lists the subnets the engine already has for other
	// uses, which no network's subnet may overlap (PlanFrom); asked only
	// when a network needs a subnet.
	Avoid func(ctx context.Context) []string
}

// Run allocates after every commit until ctx ends. A refused proposal (a
// race with an older leader's last writes) is planned again from the new
// state. A commit that can have left nothing to allocate (no task or
// service of the services it touched lacks an address, no node, network
// or cluster changed: store.ServicesChangedSince) is passed over without
// a scan of every task.
func (a *Allocator) Run(ctx context.Context) {
	newID := a.NewID
	if newID == nil {
		newID = types.NewID
	}
	var last uint64    // the view index of the last full pass; 0: none yet
	incomplete := true // the last pass left something unallocated
	cursors := Cursors{}
	watch.Loop(ctx, a.Store, "allocator", a.Log, func(ctx context.Context, view *store.ReadTx) (time.Time, error) {
		if last != 0 && !incomplete {
			if ids, all := a.Store.ServicesChangedSince(last); !all && !needsAddrs(view, ids) {
				last = view.Index
				return time.Time{}, nil
			}
		}
		var avoid func() []string
		if a.Avoid != nil {
			avoid = func() []string { return a.Avoid(ctx) }
		}
		changes, planErr := PlanFrom(view, newID, cursors, avoid)
		last, incomplete = view.Index, planErr != nil
		if len(changes) > 0 {
			if err := store.ProposeAll(ctx, a.Proposer, changes); err != nil {
				last = 0
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

// needsAddrs reports whether a service of ids, or a task of one, lacks an
// address Plan would give.
func needsAddrs(view *store.ReadTx, ids map[string]struct{}) bool {
	def := view.NetworkByName(types.DefaultNetworkName)
	if def == nil {
		return true
	}
	for id := range ids {
		if s := view.Service(id); s != nil && !sameNetworks(s.VirtualIPs, wantVIPs(s, def.ID)) {
			return true
		}
		for _, t := range view.TasksOfService(id) {
			if store.HoldsAddrs(t) && !types.Allocated(t.Networks) {
				return true
			}
		}
	}
	return false
}
