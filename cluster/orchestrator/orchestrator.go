package orchestrator

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
	"sw/cluster/watch"
)

// FullPassEvery is how often the orchestrator looks at every service even
// if the journal says nothing concerns them: the safety net of the
// incremental passes.
const FullPassEvery = 30 * time.Second

// Orchestrator is the leader-only loop that applies Reconcile's plans.
// Between full passes it reconciles only the services a commit touched
// (store.ServicesChangedSince): a rollout of one service does not make
// every commit rescan every service's tasks.
type Orchestrator struct {
	Store    *store.Store
	Proposer store.Proposer
	Now      func() time.Time
	Log      *slog.Logger
	// Filters limit the nodes a service's tasks may run on (Input.Filters).
	Filters []hooks.NodeFilter

	// State of the loop (its goroutine only): the view index of the last
	// pass, when a full pass is next due, the earliest time a pass asked
	// to be woken at, and whether the last pass failed to propose.
	last     uint64
	nextFull time.Time
	wakeAt   time.Time
	failed   bool
	// observe, if set (tests), sees each pass's input.
	observe func(Input)
}

// Run reconciles at every commit until ctx ends.
func (o *Orchestrator) Run(ctx context.Context) {
	o.last, o.failed = 0, false
	watch.Loop(ctx, o.Store, "orchestrator", o.Log, o.step)
}

func (o *Orchestrator) step(ctx context.Context, view *store.ReadTx) (time.Time, error) {
	now := o.Now()
	in := Input{Now: now, Nodes: view.Nodes(), Filters: o.Filters}
	if c := view.Cluster(); c != nil {
		in.HistoryLimit = c.TaskHistoryLimit
	}
	if n := view.NetworkByName(types.DefaultNetworkName); n != nil {
		in.DefaultNetwork = n.ID
	}
	full := o.last == 0 || o.failed || !now.Before(o.nextFull) || (!o.wakeAt.IsZero() && !now.Before(o.wakeAt))
	var dirty map[string]struct{}
	if !full {
		dirty, full = o.Store.ServicesChangedSince(o.last)
	}
	if full {
		in.Services, in.Tasks = view.Services(), view.Tasks()
	} else {
		ids := make([]string, 0, len(dirty))
		for id := range dirty {
			ids = append(ids, id)
		}
		sort.Strings(ids) // a deterministic plan
		for _, id := range ids {
			if svc := view.Service(id); svc != nil {
				in.Services = append(in.Services, svc)
			}
			in.Tasks = append(in.Tasks, view.TasksOfService(id)...)
		}
	}
	if o.observe != nil {
		o.observe(in)
	}
	plan := Reconcile(in)
	o.last = view.Index
	if full {
		o.nextFull, o.wakeAt = now.Add(FullPassEvery), plan.WakeAt
	} else if !plan.WakeAt.IsZero() && (o.wakeAt.IsZero() || plan.WakeAt.Before(o.wakeAt)) {
		o.wakeAt = plan.WakeAt
	}
	wake := o.nextFull
	if !o.wakeAt.IsZero() && o.wakeAt.Before(wake) {
		wake = o.wakeAt
	}
	if plan.Empty() {
		o.failed = false
		return wake, nil
	}
	// A big plan goes as several commands. This loop runs again only once
	// they are all in, so it never sees them half applied, except after a
	// failure (a lost leadership), which the next pass, a full one, repairs.
	err := store.ProposeGroups(ctx, o.Proposer, plan.Groups())
	o.failed = err != nil
	return wake, err
}
