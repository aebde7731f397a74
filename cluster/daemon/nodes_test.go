package daemon

import (
	"strings"
	"testing"
)

func TestManagerCountWarning(t *testing.T) {
	cases := []struct {
		managers int
		want     []string // substrings; none means no warning
	}{
		{1, nil},
		{2, []string{"2 managers, an even number", "loss of only 0 of them", "no more than with 1 managers"}},
		{3, nil},
		{4, []string{"4 managers, an even number", "loss of only 1 of them", "no more than with 3 managers", "prefer an odd number"}},
		{5, nil},
		{6, []string{"6 managers, an even number", "loss of only 2 of them", "with 5 managers"}},
		{7, nil},
		{8, []string{"8 managers", "more than 7 slows Raft down"}},
		{9, []string{"9 managers", "more than 7"}},
	}
	for _, tc := range cases {
		got := managerCountWarning(tc.managers)
		if len(tc.want) == 0 {
			if got != "" {
				t.Errorf("managerCountWarning(%d) = %q, want none", tc.managers, got)
			}
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("managerCountWarning(%d) = %q, want it to contain %q", tc.managers, got, w)
			}
		}
	}
	// More than seven is one warning, not also the even-number one.
	if got := managerCountWarning(8); strings.Contains(got, "even") {
		t.Errorf("managerCountWarning(8) = %q", got)
	}
}
