package store

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"sw/cluster/types"
)

const (
	tableCluster  = "cluster"
	tableNodes    = "nodes"
	tableServices = "services"
	tableTasks    = "tasks"
	tableNetworks = "networks"

	indexID      = "id"
	indexName    = "name"
	indexService = "service"
	indexNode    = "node"
	indexAddr    = "addr"
)

func schema() *memdb.DBSchema {
	id := &memdb.IndexSchema{Name: indexID, Unique: true, Indexer: stringIndex(objectID)}
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableCluster: {Name: tableCluster, Indexes: map[string]*memdb.IndexSchema{indexID: id}},
		tableNodes:   {Name: tableNodes, Indexes: map[string]*memdb.IndexSchema{indexID: id}},
		tableServices: {Name: tableServices, Indexes: map[string]*memdb.IndexSchema{
			indexID:   id,
			indexName: {Name: indexName, Unique: true, Indexer: serviceNameIndex{}},
		}},
		tableTasks: {Name: tableTasks, Indexes: map[string]*memdb.IndexSchema{
			indexID:      id,
			indexService: {Name: indexService, Indexer: stringIndex(taskServiceID)},
			indexNode:    {Name: indexNode, AllowMissing: true, Indexer: stringIndex(taskNodeID)},
			indexAddr:    {Name: indexAddr, AllowMissing: true, Indexer: taskAddrIndex{}},
		}},
		tableNetworks: {Name: tableNetworks, Indexes: map[string]*memdb.IndexSchema{
			indexID:   id,
			indexName: {Name: indexName, Unique: true, Indexer: serviceNameIndex{}},
		}},
	}}
}

// stringIndex indexes a string field read by a typed accessor. It encodes
// keys as go-memdb's StringFieldIndex does (the string and a 0 byte; an
// empty string is no value) but without its reflection, whose field lookup
// by name is a large share of the cost of every insert.
type stringIndex func(obj any) string

func objectID(obj any) string {
	switch o := obj.(type) {
	case *types.Task:
		return o.ID
	case *types.Node:
		return o.ID
	case *types.Service:
		return o.ID
	case *types.Cluster:
		return o.ID
	case *types.Network:
		return o.ID
	}
	return ""
}

func taskServiceID(obj any) string {
	if t, ok := obj.(*types.Task); ok {
		return t.ServiceID
	}
	return ""
}

func taskNodeID(obj any) string {
	if t, ok := obj.(*types.Task); ok {
		return t.NodeID
	}
	return ""
}

func (f stringIndex) FromObject(obj any) (bool, []byte, error) {
	s := f(obj)
	if s == "" {
		return false, nil, nil
	}
	// Room for the ID go-memdb appends to the keys of non-unique indexes.
	b := make([]byte, len(s)+1, len(s)+1+types.IDLength+1)
	copy(b, s)
	return true, b, nil
}

func (stringIndex) FromArgs(args ...any) ([]byte, error) {
	s, err := oneString(args)
	if err != nil {
		return nil, err
	}
	return []byte(s + "\x00"), nil
}

// PrefixFromArgs makes the index usable with go-memdb's "_prefix" queries.
func (stringIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	s, err := oneString(args)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func oneString(args []any) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("store: index wants one argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return "", fmt.Errorf("store: index wants a string, got %T", args[0])
	}
	return s, nil
}

// serviceNameIndex indexes services and networks by Spec.Name, which
// go-memdb's field indexers cannot reach.
type serviceNameIndex struct{}

func (serviceNameIndex) FromObject(obj any) (bool, []byte, error) {
	name := ""
	switch o := obj.(type) {
	case *types.Service:
		name = o.Spec.Name
	case *types.Network:
		name = o.Spec.Name
	}
	if name == "" {
		return false, nil, nil
	}
	return true, []byte(name + "\x00"), nil
}

func (serviceNameIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("store: name index wants one argument")
	}
	name, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("store: name index wants a string, got %T", args[0])
	}
	return []byte(name + "\x00"), nil
}

// newMemDB returns an empty database. The store never uses go-memdb's
// watch channels (Changed does that job), so it writes through a
// non-primary handle — what go-memdb's Snapshot returns — for which
// go-memdb skips tracking and notifying every radix node a write touches.
func newMemDB() (*memdb.MemDB, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, err
	}
	return db.Snapshot(), nil
}

func memdbFrom(d *snapshotData) (*memdb.MemDB, error) {
	db, err := newMemDB()
	if err != nil {
		return nil, err
	}
	tx := db.Txn(true)
	defer tx.Abort()
	put := func(table string, obj any, isNil bool) error {
		// A null in a list decodes to a nil object, which no index can
		// read (found by fuzzing): the snapshot is refused.
		if isNil {
			return fmt.Errorf("store: restore %s: a null entry", table)
		}
		if err := tx.Insert(table, obj); err != nil {
			return fmt.Errorf("store: restore %s: %w", table, err)
		}
		return nil
	}
	if d.Cluster != nil {
		if err := put(tableCluster, d.Cluster, false); err != nil {
			return nil, err
		}
	}
	for _, n := range d.Nodes {
		if err := put(tableNodes, n, n == nil); err != nil {
			return nil, err
		}
	}
	for _, s := range d.Services {
		if err := put(tableServices, s, s == nil); err != nil {
			return nil, err
		}
	}
	for _, t := range d.Tasks {
		if err := put(tableTasks, t, t == nil); err != nil {
			return nil, err
		}
	}
	for _, n := range d.Networks {
		if err := put(tableNetworks, n, n == nil); err != nil {
			return nil, err
		}
	}
	tx.Commit()
	return db, nil
}
