package loadbalancer

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
)

// backendSet is an immutable snapshot of one listener's backends.
type backendSet struct {
	// raw is the list exactly as given to Sync, kept to detect no-op updates.
	raw []string
	// addrs holds the valid entries of raw, in order.
	addrs []netip.AddrPort
	// strs holds addrs formatted once, for dialing and logging.
	strs []string
	// err reports the entries of raw that could not be parsed.
	err error
}

// newBackendSet parses raw ("ip:port" entries). Invalid entries are left
// out and reported in the set's err.
func newBackendSet(raw []string) *backendSet {
	s := &backendSet{raw: slices.Clone(raw)}
	var errs []error
	for _, r := range raw {
		ap, err := netip.ParseAddrPort(r)
		if err != nil || ap.Port() == 0 {
			errs = append(errs, fmt.Errorf("invalid backend %q: want ip:port with a non-zero port", r))
			continue
		}
		s.addrs = append(s.addrs, ap)
		s.strs = append(s.strs, ap.String())
	}
	s.err = errors.Join(errs...)
	return s
}

// balancer holds the current backends of one listener and picks among them
// round-robin. It is safe for concurrent use.
type balancer struct {
	set  atomic.Pointer[backendSet]
	next atomic.Uint64
}

// update replaces the backend set unless raw equals the current one, in
// which case it is a cheap no-op. It returns the parse errors of the set now
// in use.
func (b *balancer) update(raw []string) error {
	if cur := b.set.Load(); cur != nil && slices.Equal(cur.raw, raw) {
		return cur.err
	}
	s := newBackendSet(raw)
	b.set.Store(s)
	return s.err
}

// pick returns the current backend set and the index to try first. Callers
// that fail on that backend try the following ones, wrapping around, each at
// most once. The set may be empty.
func (b *balancer) pick() (*backendSet, int) {
	s := b.set.Load()
	if s == nil || len(s.addrs) == 0 {
		return s, 0
	}
	n := b.next.Add(1) - 1
	return s, int(n % uint64(len(s.addrs)))
}

// size returns the number of usable backends.
func (b *balancer) size() int {
	if s := b.set.Load(); s != nil {
		return len(s.addrs)
	}
	return 0
}
