// Package ipam is the subnet arithmetic of the swarm's address pools:
// which prefixes of a pool are still free. It holds no state; the
// allocator uses it to give networks their subnets, and the store to
// refuse a network the pools can no longer hold.
package ipam

import (
	"fmt"
	"net/netip"
)

// MaxBits is the longest subnet a pool may be cut into: a /30 holds a
// gateway and one task.
const MaxBits = 30

// Taken returns the prefixes of subnets, skipping the empty and the
// malformed.
func Taken(subnets ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range subnets {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// FreeSubnets returns the first n prefixes of length bits (or the pool's
// own length, if longer) in pools, in order, that overlap nothing taken
// and none of each other. It fails if the pools hold fewer than n.
func FreeSubnets(pools []string, bits int, taken []netip.Prefix, n int) ([]netip.Prefix, error) {
	var out []netip.Prefix
	if n <= 0 {
		return out, nil
	}
	for _, ps := range pools {
		pool, err := netip.ParsePrefix(ps)
		if err != nil || !pool.Addr().Is4() {
			return nil, fmt.Errorf("ipam: bad address pool %q", ps)
		}
		pool = pool.Masked()
		size := max(bits, pool.Bits())
		if size > MaxBits {
			return nil, fmt.Errorf("ipam: subnets of /%d are too small", size)
		}
		step := uint64(1) << (32 - size)
		end := u32(pool.Addr()) + uint64(1)<<(32-pool.Bits())
		for a := u32(pool.Addr()); a < end; a += step {
			cand := netip.PrefixFrom(addr4(a), size)
			if overlapsAny(cand, taken) || overlapsAny(cand, out) {
				continue
			}
			if out = append(out, cand); len(out) == n {
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("ipam: no subnet left in the address pools %v", pools)
}

func overlapsAny(p netip.Prefix, taken []netip.Prefix) bool {
	for _, t := range taken {
		if t.Overlaps(p) {
			return true
		}
	}
	return false
}

func u32(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

func addr4(v uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
