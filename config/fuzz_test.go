package config

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzMinFreeBytes: the daemon's one size setting parses to a
// non-negative byte count or a clear error, never a panic; a parsed size
// written back as a plain number of bytes parses to the same count.
func FuzzMinFreeBytes(f *testing.F) {
	for _, s := range []string{"64MiB", "0", "1GB", "1.5g", "512k", "", "-1", "lots", "9999999999999999999999T", " 64MiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Daemon{MinFreeDisk: s}.MinFreeBytes()
		if err != nil {
			if !strings.Contains(err.Error(), "min-free-disk") {
				t.Fatalf("error %q does not name the setting", err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("%q parsed to %d", s, n)
		}
		again, err := Daemon{MinFreeDisk: strconv.FormatInt(n, 10)}.MinFreeBytes()
		if err != nil || again != n {
			t.Fatalf("%q = %d bytes; written back it parses to %d, %v", s, n, again, err)
		}
	})
}
