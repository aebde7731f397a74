// Package types holds the cluster's objects — nodes, services, tasks and
// the cluster itself — as they are replicated through Raft, stored in the
// state store and sent over the API. It has no behaviour beyond small,
// pure helpers (IDs, task state ordering, name formatting).
package types
