// Package loadbalancer is the L4 mechanics of the routing mesh: a userspace
// TCP and UDP proxy.
//
// A [Proxy] owns a set of listeners ([Frontend]s). Each listener balances the
// connections (TCP) or client sessions (UDP) it receives round-robin over its
// own list of backend addresses. The package knows nothing of the cluster: the
// caller computes the wanted frontends and backends and hands them to
// [Proxy.Sync], as often as it likes.
//
// Changing a listener's backends never disturbs established TCP connections or
// live UDP sessions: they keep the backend they were given. Only new
// connections and sessions see the new set.
package loadbalancer
