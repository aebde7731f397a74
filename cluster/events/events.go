// Package events turns successive committed states into lifecycle events
// — node joined/left, service created/updated/removed, task started and
// stopped on a node — by comparing one state with the next. It is pure:
// the daemon feeds it views and hands the events to the plugins' hooks,
// outside any Raft apply.
package events

import (
	"sort"

	"sw/cluster/store"
	"sw/cluster/types"
)

// Kind names an event.
type Kind int

// Event kinds.
const (
	NodeJoined Kind = iota
	NodeLeft
	ServiceCreated
	ServiceUpdated
	ServiceRemoved
	TaskStarted
	TaskStopped
)

// Event is one change; Old is set for updates.
type Event struct {
	Kind    Kind
	Node    *types.Node
	Service *types.Service
	Old     *types.Service
	Task    *types.Task
}

// State is what the differ remembers between two views.
type State struct {
	nodes    map[string]*types.Node
	services map[string]*types.Service
	tasks    map[string]types.TaskState
}

// Diff returns the events between the previous state and view, and the
// state to pass next time. Task events are for nodeID's tasks only. The
// first call (zero State) reports what exists as joined/created/started.
func Diff(prev State, view *store.ReadTx, nodeID string) ([]Event, State) {
	next := State{nodes: map[string]*types.Node{}, services: map[string]*types.Service{}}
	var out []Event
	for _, n := range view.Nodes() {
		next.nodes[n.ID] = n
		old := prev.nodes[n.ID]
		switch {
		case n.State == types.NodeReady && (old == nil || old.State != types.NodeReady):
			out = append(out, Event{Kind: NodeJoined, Node: n})
		case n.State != types.NodeReady && old != nil && old.State == types.NodeReady:
			out = append(out, Event{Kind: NodeLeft, Node: n})
		}
	}
	for id, old := range prev.nodes {
		if next.nodes[id] == nil && old.State == types.NodeReady {
			out = append(out, Event{Kind: NodeLeft, Node: old})
		}
	}
	for _, s := range view.Services() {
		next.services[s.ID] = s
		switch old := prev.services[s.ID]; {
		case old == nil:
			out = append(out, Event{Kind: ServiceCreated, Service: s})
		case old.Version != s.Version:
			out = append(out, Event{Kind: ServiceUpdated, Service: s, Old: old})
		}
	}
	for id, old := range prev.services {
		if next.services[id] == nil {
			out = append(out, Event{Kind: ServiceRemoved, Service: old})
		}
	}
	out, next.tasks = taskEvents(out, prev.tasks, view, nodeID)
	return out, next
}

// taskEvents appends the start and stop events of nodeID's tasks since
// prev (their states then) and returns their states now.
func taskEvents(out []Event, prev map[string]types.TaskState, view *store.ReadTx, nodeID string) ([]Event, map[string]types.TaskState) {
	now := map[string]types.TaskState{}
	for _, t := range view.TasksOnNode(nodeID) {
		now[t.ID] = t.Status.State
		was, seen := prev[t.ID]
		switch {
		case t.Status.State == types.TaskRunning && (!seen || was < types.TaskRunning):
			out = append(out, Event{Kind: TaskStarted, Task: t})
		case t.Status.State.Terminal() && seen && !was.Terminal():
			out = append(out, Event{Kind: TaskStopped, Task: t})
		}
	}
	return out, now
}

// DiffChanged is Diff for a view whose commits since the previous one
// touched only the services in changed (see store.ServicesChangedSince):
// the nodes are taken as they were and only those services compared, so a
// commit costs what it changed, not the swarm's size. With all set (a
// node, a network or the cluster changed, or what changed is not known),
// or before a first Diff, it is Diff. prev must not be used afterwards:
// its maps are updated in place.
func DiffChanged(prev State, view *store.ReadTx, nodeID string, changed map[string]struct{}, all bool) ([]Event, State) {
	if all || prev.nodes == nil {
		return Diff(prev, view, nodeID)
	}
	var out []Event
	ids := make([]string, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	sort.Strings(ids) // events in a stable order
	for _, id := range ids {
		s, old := view.Service(id), prev.services[id]
		switch {
		case s != nil && old == nil:
			out = append(out, Event{Kind: ServiceCreated, Service: s})
		case s != nil && old.Version != s.Version:
			out = append(out, Event{Kind: ServiceUpdated, Service: s, Old: old})
		case s == nil && old != nil:
			out = append(out, Event{Kind: ServiceRemoved, Service: old})
		}
		if s != nil {
			prev.services[id] = s
		} else {
			delete(prev.services, id)
		}
	}
	out, prev.tasks = taskEvents(out, prev.tasks, view, nodeID)
	return out, prev
}
