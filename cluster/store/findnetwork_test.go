package store

import (
	"errors"
	"strings"
	"testing"

	"sw/cluster/types"
)

// TestFindNetwork: a network is found by full ID, then name, then unique
// ID prefix, as services are.
func TestFindNetwork(t *testing.T) {
	h := newHarness(t)
	mk := func(id, name string) Change {
		return Change{CreateNetwork: &types.Network{ID: id, Spec: types.NetworkSpec{Name: name, Driver: "overlay"}}}
	}
	h.must(mk("net111", "front"), mk("net222", "back"), mk("zzz333", "net1")) // a name that is also a prefix
	v := h.st.View()
	tests := []struct {
		ref, want string
		err       string // "": found; "not found" or "ambiguous"
	}{
		{ref: "net111", want: "net111"},
		{ref: "front", want: "net111"},
		{ref: "back", want: "net222"},
		{ref: "net1", want: "zzz333"}, // the name wins over the prefix
		{ref: "net2", want: "net222"},
		{ref: "zz", want: "zzz333"},
		{ref: "net", err: "ambiguous"},
		{ref: "nope", err: "not found"},
		{ref: "", err: "not found"},
		{ref: "FRONT", err: "not found"}, // names are case-sensitive
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			n, err := v.FindNetwork(tt.ref)
			switch tt.err {
			case "":
				if err != nil || n.ID != tt.want {
					t.Fatalf("FindNetwork(%q) = %v, %v; want %s", tt.ref, n, err, tt.want)
				}
			case "not found":
				if !errors.Is(err, ErrNotFound) || err.Error() != "no such network: "+tt.ref {
					t.Fatalf("FindNetwork(%q) error %v; want no such network", tt.ref, err)
				}
			default:
				if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("FindNetwork(%q) error %v; want %s", tt.ref, err, tt.err)
				}
			}
		})
	}
}
