package ipam

import (
	"fmt"
	"strings"
	"testing"
)

func TestFreeSubnets(t *testing.T) {
	tests := []struct {
		name  string
		pools []string
		bits  int
		taken []string
		n     int
		want  string // the prefixes, space-separated; or the error's words
	}{
		{"first of Docker's pool", []string{"10.0.0.0/8"}, 24, nil, 1, "10.0.0.0/24"},
		{"several in order", []string{"10.0.0.0/8"}, 24, nil, 3, "10.0.0.0/24 10.0.1.0/24 10.0.2.0/24"},
		{"skips taken", []string{"10.0.0.0/8"}, 24, []string{"10.0.1.0/24"}, 2, "10.0.0.0/24 10.0.2.0/24"},
		{"skips a larger taken one", []string{"10.0.0.0/8"}, 24, []string{"10.0.0.0/16"}, 1, "10.1.0.0/24"},
		{"a taken host address", []string{"10.0.0.0/8"}, 24, []string{"10.0.0.7/24"}, 1, "10.0.1.0/24"},
		{"pool smaller than the size", []string{"10.9.0.0/20"}, 16, nil, 1, "10.9.0.0/20"},
		{"into the second pool", []string{"10.9.0.0/24", "192.168.50.0/24"}, 24, nil, 2, "10.9.0.0/24 192.168.50.0/24"},
		{"none asked", []string{"10.9.0.0/24"}, 24, []string{"10.9.0.0/24"}, 0, ""},
		{"exhausted", []string{"10.9.0.0/23"}, 24, []string{"10.9.1.0/24"}, 2, "error: no subnet left"},
		{"bad pool", []string{"nope"}, 24, nil, 1, "error: bad address pool"},
		{"too small", []string{"10.0.0.0/8"}, 31, nil, 1, "error: too small"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FreeSubnets(tt.pools, tt.bits, Taken(tt.taken...), tt.n)
			if msg, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), msg) {
					t.Fatalf("err = %v, want %q", err, msg)
				}
				return
			}
			if s := strings.Trim(fmt.Sprint(got), "[]"); err != nil || s != tt.want {
				t.Fatalf("got %q (%v), want %q", s, err, tt.want)
			}
		})
	}
}
