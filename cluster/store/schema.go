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

	indexID      = "id"
	indexName    = "name"
	indexService = "service"
	indexNode    = "node"
)

func schema() *memdb.DBSchema {
	id := &memdb.IndexSchema{Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}}
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableCluster: {Name: tableCluster, Indexes: map[string]*memdb.IndexSchema{indexID: id}},
		tableNodes:   {Name: tableNodes, Indexes: map[string]*memdb.IndexSchema{indexID: id}},
		tableServices: {Name: tableServices, Indexes: map[string]*memdb.IndexSchema{
			indexID:   id,
			indexName: {Name: indexName, Unique: true, Indexer: serviceNameIndex{}},
		}},
		tableTasks: {Name: tableTasks, Indexes: map[string]*memdb.IndexSchema{
			indexID:      id,
			indexService: {Name: indexService, Indexer: &memdb.StringFieldIndex{Field: "ServiceID"}},
			indexNode:    {Name: indexNode, AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "NodeID"}},
		}},
	}}
}

// serviceNameIndex indexes services by Spec.Name, which go-memdb's field
// indexers cannot reach.
type serviceNameIndex struct{}

func (serviceNameIndex) FromObject(obj any) (bool, []byte, error) {
	s, ok := obj.(*types.Service)
	if !ok || s.Spec.Name == "" {
		return false, nil, nil
	}
	return true, []byte(s.Spec.Name + "\x00"), nil
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

func memdbFrom(d *snapshotData) (*memdb.MemDB, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, err
	}
	tx := db.Txn(true)
	defer tx.Abort()
	put := func(table string, obj any) error {
		if err := tx.Insert(table, obj); err != nil {
			return fmt.Errorf("store: restore %s: %w", table, err)
		}
		return nil
	}
	if d.Cluster != nil {
		if err := put(tableCluster, d.Cluster); err != nil {
			return nil, err
		}
	}
	for _, n := range d.Nodes {
		if err := put(tableNodes, n); err != nil {
			return nil, err
		}
	}
	for _, s := range d.Services {
		if err := put(tableServices, s); err != nil {
			return nil, err
		}
	}
	for _, t := range d.Tasks {
		if err := put(tableTasks, t); err != nil {
			return nil, err
		}
	}
	tx.Commit()
	return db, nil
}
