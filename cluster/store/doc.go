// Package store is the cluster's replicated state: go-memdb tables of
// nodes, services and tasks, changed only by applying Commands — the
// entries of the Raft log — in log order. Apply is deterministic: it takes
// time from the Command and versions from the log index, so every manager
// that applies the same log holds the same state.
//
// Readers see immutable snapshots (View) and wait for change with Changed,
// which returns a channel closed at the next commit. Side effects never
// happen here; the loops that watch the store perform them.
package store
