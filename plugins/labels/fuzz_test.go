package labels

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sw/cluster/types"
)

// FuzzParseConstraint: an accepted constraint has a known key and one of
// the two operators, prints back (String) to the same constraint, and
// matches nodes without trouble. The same input, as --label-add values
// (one a line), exercises ParseNodeLabels: accepted labels have non-empty
// untrimmed keys and re-render to the same map.
func FuzzParseConstraint(f *testing.F) {
	for _, s := range []string{"node.labels.zone==east", "node.role!=manager", "node.hostname == h1", "node.id==abc",
		"node.platform.os==linux", "NODE.ROLE==worker", "node.labels.==x", "node.labels.a==", "node.role==boss", "x==y",
		"node.labels.a!=b==c", "node.labels.a=b", "==", "!=", "node.labels.a==b c", "zone=east\nrack", "=x"} {
		f.Add(s)
	}
	n := &types.Node{ID: "n1", Hostname: "h1", Role: types.RoleWorker, OS: "linux", Arch: "amd64",
		Labels: map[string]string{"zone": "east", "": "empty"}}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := Parse(s); err == nil {
			if c.Op != Equal && c.Op != NotEqual {
				t.Fatalf("Parse(%q) gave operator %q", s, c.Op)
			}
			if _, known := keys[c.Key]; !known && !strings.HasPrefix(c.Key, labelPrefix) {
				t.Fatalf("Parse(%q) gave key %q", s, c.Key)
			}
			back, err := Parse(c.String())
			if err != nil || back != c {
				t.Fatalf("Parse(%q) = %+v; its String %q parses to %+v, %v", s, c, c.String(), back, err)
			}
			if c.Match(n) == (Constraint{Key: c.Key, Op: flipOp(c.Op), Value: c.Value}).Match(n) {
				t.Fatalf("%q and its negation agree on a node", c)
			}
		} else if !strings.HasPrefix(err.Error(), "labels: invalid constraint") {
			t.Fatalf("Parse(%q) error %q", s, err)
		}
		vals := strings.Split(s, "\n")
		m, err := ParseNodeLabels(vals)
		if err != nil {
			return
		}
		var again []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if k == "" || strings.TrimSpace(k) != k {
				t.Fatalf("ParseNodeLabels(%q) gave key %q", vals, k)
			}
			again = append(again, k+"="+m[k])
		}
		if back, err := ParseNodeLabels(again); err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("ParseNodeLabels(%q) = %v; re-rendered parses to %v, %v", vals, m, back, err)
		}
	})
}

func flipOp(o Op) Op {
	if o == Equal {
		return NotEqual
	}
	return Equal
}
