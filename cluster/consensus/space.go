package consensus

import (
	"errors"
	"fmt"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// ErrNoSpace is returned by Propose while the Raft data dir has less free
// space than Config.MinFree: writes are refused until space is freed.
var ErrNoSpace = errors.New("no space left for the swarm's state")

// spaceCheck guards writes against a full disk.
type spaceCheck struct {
	dir string
	min uint64
	// free, when set, replaces statfs (tests).
	free func(dir string) (uint64, error)
}

// check refuses a write when the data dir is short of space.
func (s *spaceCheck) check() error {
	if s.min == 0 {
		return nil
	}
	free := s.free
	if free == nil {
		free = freeBytes
	}
	n, err := free(s.dir)
	if err != nil {
		return nil // cannot tell: let the write try
	}
	if n < s.min {
		return fmt.Errorf("%w: %s has %s free, less than the %s this manager keeps in reserve (sw daemon --min-free-disk); "+
			"writes are refused until space is freed there", ErrNoSpace, s.dir,
			units.BytesSize(float64(n)), units.BytesSize(float64(s.min)))
	}
	return nil
}

// freeBytes is the space an unprivileged writer has left on dir's file
// system.
func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
