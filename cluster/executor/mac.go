package executor

import (
	"fmt"
	"net/netip"
)

// MACFor is the MAC address of a task interface with IPv4 address addr:
// 02:42 and the address's four bytes, as Docker derives them. Every host
// computes the same, so the overlay needs no learning.
func MACFor(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return ""
	}
	b := a.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}
