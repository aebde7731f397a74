package format

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParseFilters: accepted filters have lower-case, trimmed, non-empty
// keys and trimmed values without duplicates, and re-render (key=value
// per value) to the same filters; with allowed keys, no other key passes.
func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{"name=web", "label=com.example.tier=web", " Name = x \nname=y", "name=x\nname=x", "=x", "name",
		"id=abc\nnode=self", "", "desired-state=running"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	allowed := []string{"id", "name", "label", "node", "desired-state"}
	f.Fuzz(func(t *testing.T, s string, restrict bool) {
		args := strings.Split(s, "\n")
		var keys []string
		if restrict {
			keys = allowed
		}
		got, err := ParseFilters(args, keys...)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid filter") {
				t.Fatalf("ParseFilters(%q) error %q", args, err)
			}
			return
		}
		var again []string
		for k, vs := range got {
			if k == "" || k != strings.ToLower(strings.TrimSpace(k)) || (restrict && !slices.Contains(allowed, k)) {
				t.Fatalf("ParseFilters(%q) gave key %q", args, k)
			}
			for i, v := range vs {
				if v != strings.TrimSpace(v) || slices.Contains(vs[:i], v) {
					t.Fatalf("ParseFilters(%q) gave values %q for %q", args, vs, k)
				}
				again = append(again, k+"="+v)
				if !got.Match(k, v) || !got.MatchPrefix(k, v) {
					t.Fatalf("filters %v do not match their own value %s=%s", got, k, v)
				}
			}
		}
		back, err := ParseFilters(again, keys...)
		if err != nil {
			t.Fatalf("ParseFilters(%q) = %v; re-rendered %q: %v", args, got, again, err)
		}
		for k := range got {
			if !slices.Equal(slices.Sorted(slices.Values(back[k])), slices.Sorted(slices.Values(got[k]))) {
				t.Fatalf("ParseFilters(%q) = %v; re-rendered parses to %v", args, got, back)
			}
		}
		if len(back) != len(got) && !(len(got) == 0 && reflect.DeepEqual(back, Filters{})) {
			t.Fatalf("ParseFilters(%q) = %v; re-rendered parses to %v", args, got, back)
		}
	})
}
