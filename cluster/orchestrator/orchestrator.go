package orchestrator

import (
	"context"
	"log/slog"
	"time"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
	"sw/cluster/watch"
)

// Orchestrator is the leader-only loop that applies Reconcile's plans.
type Orchestrator struct {
	Store    *store.Store
	Proposer store.Proposer
	Now      func() time.Time
	Log      *slog.Logger
	// Filters limit the nodes a service's tasks may run on (Input.Filters).
	Filters []hooks.NodeFilter
}

// Run reconciles at every commit until ctx ends.
func (o *Orchestrator) Run(ctx context.Context) {
	watch.Loop(ctx, o.Store, "orchestrator", o.Log, o.step)
}

func (o *Orchestrator) step(ctx context.Context, view *store.ReadTx) (time.Time, error) {
	in := Input{
		Now:      o.Now(),
		Services: view.Services(),
		Tasks:    view.Tasks(),
		Nodes:    view.Nodes(),
		Filters:  o.Filters,
	}
	if c := view.Cluster(); c != nil {
		in.HistoryLimit = c.TaskHistoryLimit
	}
	if n := view.NetworkByName(types.DefaultNetworkName); n != nil {
		in.DefaultNetwork = n.ID
	}
	plan := Reconcile(in)
	if plan.Empty() {
		return plan.WakeAt, nil
	}
	// A big plan goes as several commands. This loop runs again only once
	// they are all in, so it never sees them half applied, except after a
	// failure (a lost leadership), which the next pass repairs.
	return plan.WakeAt, store.ProposeGroups(ctx, o.Proposer, plan.Groups())
}
