package consensus

import (
	"errors"
	"strings"
	"testing"
)

func TestSpaceCheck(t *testing.T) {
	cases := []struct {
		name    string
		min     uint64
		free    uint64
		statErr error
		refused bool
	}{
		{"no reserve", 0, 0, nil, false},
		{"enough", 64 << 20, 65 << 20, nil, false},
		{"exactly the reserve", 64 << 20, 64 << 20, nil, false},
		{"short", 64 << 20, 3 << 20, nil, true},
		{"cannot tell", 64 << 20, 0, errors.New("statfs failed"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := spaceCheck{dir: "/data/raft", min: tc.min, free: func(string) (uint64, error) { return tc.free, tc.statErr }}
			err := s.check()
			if (err != nil) != tc.refused {
				t.Fatalf("check = %v, refused want %v", err, tc.refused)
			}
			if err != nil && (!errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "/data/raft has 3MiB free, less than the 64MiB")) {
				t.Fatalf("error %q", err)
			}
		})
	}
	// The real file system of a temp dir has some space.
	if n, err := freeBytes(t.TempDir()); err != nil || n == 0 {
		t.Fatalf("freeBytes = %d, %v", n, err)
	}
}
