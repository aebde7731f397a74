// Package dispatcher hands each node's agent its assignments and carries
// the agent's status reports back into the store. Local serves an agent on
// the same process as the store; a worker's agent uses Remote, which
// long-polls its session from a manager's Server over the peer API.
package dispatcher

import (
	"context"

	"sw/cluster/agent"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Local serves the agent of a node that holds the store itself.
type Local struct {
	NodeID   string
	Store    *store.Store
	Proposer store.Proposer
	// Ready, when set, is closed once the store is caught up; until then
	// Assignments waits, so the agent never sees a half-replayed state.
	Ready <-chan struct{}
}

var _ agent.Source = (*Local)(nil)

// Assignments returns the node's tasks and a channel closed at the next commit.
func (l *Local) Assignments(ctx context.Context) ([]*types.Task, <-chan struct{}, error) {
	if l.Ready != nil {
		select {
		case <-l.Ready:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	changed := l.Store.Changed()
	return l.Store.View().TasksOnNode(l.NodeID), changed, nil
}

// Report commits a batch of status updates.
func (l *Local) Report(ctx context.Context, updates []store.TaskStatusFrom) error {
	changes := make([]store.Change, len(updates))
	for i := range updates {
		changes[i] = store.Change{TaskStatus: &updates[i]}
	}
	return l.Proposer.Propose(ctx, &store.Command{Changes: changes})
}
