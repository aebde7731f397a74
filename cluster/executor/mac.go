package executor

import (
	"net"

	"sw/cluster/overlay"
)

// MACFor is the MAC address of a task interface with IPv4 address addr
// (overlay.MACFor, as Docker derives them): every host computes the same,
// so the overlay needs no learning. It is "" for anything but IPv4.
func MACFor(addr string) string {
	mac := overlay.MACFor(net.ParseIP(addr))
	if mac == nil {
		return ""
	}
	return mac.String()
}
