//go:build !linux

package overlay

import (
	"errors"
	"fmt"
)

// Ensure needs Linux's VXLAN devices; elsewhere it fails.
func Ensure(n Network) error {
	return fmt.Errorf("overlay: %w", errors.ErrUnsupported)
}

// SyncPeers needs Linux's VXLAN devices; elsewhere it fails.
func SyncPeers(vni uint32, peers []Peer) error {
	return fmt.Errorf("overlay: %w", errors.ErrUnsupported)
}

// RemoveFrom needs Linux's VXLAN devices; elsewhere it fails.
func RemoveFrom(bridge string) error {
	return fmt.Errorf("overlay: %w", errors.ErrUnsupported)
}

// Remove needs Linux's VXLAN devices; elsewhere it fails.
func Remove(vni uint32) error {
	return fmt.Errorf("overlay: %w", errors.ErrUnsupported)
}
