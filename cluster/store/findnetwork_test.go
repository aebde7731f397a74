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

// TestNetworkPoolsFull: a network to be given a subnet from the swarm's
// pools is refused once the pools cannot hold it, counting those still
// waiting for the allocator; one asking for its own subnet still fits.
func TestNetworkPoolsFull(t *testing.T) {
	h := newHarness(t)
	h.must(Change{PutCluster: &types.Cluster{ID: "c1", DefaultAddrPool: []string{"10.9.0.0/23"}, SubnetSize: 24}})
	mk := func(id, name, subnet string) Change {
		return Change{CreateNetwork: &types.Network{ID: id, Spec: types.NetworkSpec{Name: name, Driver: "overlay", Subnet: subnet}}}
	}
	h.must(mk("n1", "a", ""), mk("n2", "b", "")) // both waiting: the two /24s of the pool
	err := h.try(mk("n3", "c", ""))
	if !errors.Is(err, ErrAddrInUse) || !strings.Contains(err.Error(), "10.9.0.0/23") || !strings.Contains(err.Error(), "--subnet") {
		t.Fatalf("a third network from a pool of two subnets: err = %v", err)
	}
	if _, err := h.st.View().FindNetwork("c"); err == nil {
		t.Fatal("the refused network was stored")
	}
	h.must(mk("n4", "d", "192.168.7.0/24")) // its own subnet: no pool needed
	// A pool subnet freed: one more fits, and then no more.
	h.must(Change{DeleteNetwork: "n2"})
	h.must(mk("n5", "e", ""))
	if err := h.try(mk("n6", "f", "")); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("pools full again: err = %v", err)
	}
}
