package store

import (
	"fmt"
	"sort"
	"strings"

	memdb "github.com/hashicorp/go-memdb"

	"sw/cluster/types"
)

// ReadTx is a consistent, read-only view of the state. The objects it
// returns are shared with the store and must not be modified.
type ReadTx struct {
	tx *memdb.Txn
	// Index is the log index the view reflects.
	Index uint64
}

func all[T any](tx *memdb.Txn, table, index string, args ...any) []*T {
	it, err := tx.Get(table, index, args...)
	if err != nil {
		panic(fmt.Sprintf("store: query %s.%s: %v", table, index, err))
	}
	var out []*T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*T))
	}
	return out
}

func first[T any](tx *memdb.Txn, table, index string, args ...any) *T {
	raw, err := tx.First(table, index, args...)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*T)
}

// Cluster returns the cluster object, or nil before init.
func (r *ReadTx) Cluster() *types.Cluster {
	cs := all[types.Cluster](r.tx, tableCluster, indexID)
	if len(cs) == 0 {
		return nil
	}
	return cs[0]
}

// PluginSwitches is the swarm's plugin switches (name → on), nil before
// the cluster object exists.
func (r *ReadTx) PluginSwitches() map[string]bool {
	if c := r.Cluster(); c != nil {
		return c.Plugins
	}
	return nil
}

// Nodes returns every node, ordered by ID.
func (r *ReadTx) Nodes() []*types.Node { return all[types.Node](r.tx, tableNodes, indexID) }

// Node returns a node by exact ID, or nil.
func (r *ReadTx) Node(id string) *types.Node { return first[types.Node](r.tx, tableNodes, indexID, id) }

// Networks returns every network, ordered by ID.
func (r *ReadTx) Networks() []*types.Network {
	return all[types.Network](r.tx, tableNetworks, indexID)
}

// Network returns a network by exact ID, or nil.
func (r *ReadTx) Network(id string) *types.Network {
	return first[types.Network](r.tx, tableNetworks, indexID, id)
}

// NetworkByName returns a network by exact name, or nil.
func (r *ReadTx) NetworkByName(name string) *types.Network {
	return first[types.Network](r.tx, tableNetworks, indexName, name)
}

// Services returns every service, ordered by ID.
func (r *ReadTx) Services() []*types.Service {
	return all[types.Service](r.tx, tableServices, indexID)
}

// Service returns a service by exact ID, or nil.
func (r *ReadTx) Service(id string) *types.Service {
	return first[types.Service](r.tx, tableServices, indexID, id)
}

// ServiceByName returns a service by exact name, or nil.
func (r *ReadTx) ServiceByName(name string) *types.Service {
	return first[types.Service](r.tx, tableServices, indexName, name)
}

// Tasks returns every task, ordered by ID.
func (r *ReadTx) Tasks() []*types.Task { return all[types.Task](r.tx, tableTasks, indexID) }

// Task returns a task by exact ID, or nil.
func (r *ReadTx) Task(id string) *types.Task { return first[types.Task](r.tx, tableTasks, indexID, id) }

// TasksOfService returns a service's tasks, ordered by ID.
func (r *ReadTx) TasksOfService(serviceID string) []*types.Task {
	return all[types.Task](r.tx, tableTasks, indexService, serviceID)
}

// TasksOnNetwork returns the tasks that hold an address on network
// networkID (HoldsAddrs), in the order of their addresses: a look-up of
// the address index, not a scan of every task.
func (r *ReadTx) TasksOnNetwork(networkID string) []*types.Task {
	return all[types.Task](r.tx, tableTasks, indexAddr+"_prefix", networkID+"/")
}

// EachTaskOfService calls fn with each of a service's tasks, ordered by
// ID, without making a list of them (counting 10,000 replicas).
func (r *ReadTx) EachTaskOfService(serviceID string, fn func(*types.Task)) {
	it, err := r.tx.Get(tableTasks, indexService, serviceID)
	if err != nil {
		panic(fmt.Sprintf("store: query %s.%s: %v", tableTasks, indexService, err))
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		fn(raw.(*types.Task))
	}
}

// TasksOnNode returns the tasks assigned to a node.
func (r *ReadTx) TasksOnNode(nodeID string) []*types.Task {
	return all[types.Task](r.tx, tableTasks, indexNode, nodeID)
}

// NodeChangedSince reports whether a node or a task on it was written
// after log index idx (a task deleted since is not seen: Store.NodeWatch
// sees deletions, from when it is called).
func (r *ReadTx) NodeChangedSince(nodeID string, idx uint64) bool {
	if n := r.Node(nodeID); n != nil && n.Version > idx {
		return true
	}
	for _, t := range r.TasksOnNode(nodeID) {
		if t.Version > idx {
			return true
		}
	}
	return false
}

// FindService resolves a user's reference — a full ID, a name, or a unique
// ID prefix — as Docker does.
func (r *ReadTx) FindService(ref string) (*types.Service, error) {
	if s := r.Service(ref); s != nil {
		return s, nil
	}
	if s := r.ServiceByName(ref); s != nil {
		return s, nil
	}
	return uniquePrefix(ref, "service", r.Services(), func(s *types.Service) string { return s.ID })
}

// FindNetwork resolves a network reference — a full ID, a name, or a
// unique ID prefix — as Docker does.
func (r *ReadTx) FindNetwork(ref string) (*types.Network, error) {
	if n := r.Network(ref); n != nil {
		return n, nil
	}
	if n := r.NetworkByName(ref); n != nil {
		return n, nil
	}
	return uniquePrefix(ref, "network", r.Networks(), func(n *types.Network) string { return n.ID })
}

// FindNode resolves a node reference: ID, hostname, or unique ID prefix.
// A hostname shared by several nodes is refused as ambiguous.
func (r *ReadTx) FindNode(ref string) (*types.Node, error) {
	if n := r.Node(ref); n != nil {
		return n, nil
	}
	var byName []*types.Node
	for _, n := range r.Nodes() {
		if n.Hostname == ref {
			byName = append(byName, n)
		}
	}
	switch len(byName) {
	case 1:
		return byName[0], nil
	case 0:
		return uniquePrefix(ref, "node", r.Nodes(), func(n *types.Node) string { return n.ID })
	}
	ids := make([]string, len(byName))
	for i, n := range byName {
		ids[i] = n.ID
	}
	sort.Strings(ids)
	return nil, fmt.Errorf("node %q is ambiguous: it names %d nodes (%s); use an ID", ref, len(ids), strings.Join(ids, ", "))
}

// FindTask resolves a task by ID or unique ID prefix.
func (r *ReadTx) FindTask(ref string) (*types.Task, error) {
	if t := r.Task(ref); t != nil {
		return t, nil
	}
	return uniquePrefix(ref, "task", r.Tasks(), func(t *types.Task) string { return t.ID })
}

func uniquePrefix[T any](ref, kind string, objs []*T, id func(*T) string) (*T, error) {
	var found *T
	n := 0
	if ref != "" {
		for _, o := range objs {
			if strings.HasPrefix(id(o), ref) {
				found = o
				n++
			}
		}
	}
	switch n {
	case 0:
		return nil, &NotFoundError{Kind: kind, Ref: ref}
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("%s %q is ambiguous: it matches %d IDs", kind, ref, n)
}

// NotFoundError says that a reference named nothing. It matches ErrNotFound.
type NotFoundError struct{ Kind, Ref string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("no such %s: %s", e.Kind, e.Ref) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
