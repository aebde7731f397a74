package format

import (
	"fmt"
	"slices"
	"strings"
)

// Filters holds the values given to repeated --filter key=value flags,
// by lower-case key. A key given several times matches any of its values.
// The zero value (nil) filters nothing.
type Filters map[string][]string

// ParseFilters parses --filter arguments of the form key=value; the value
// may itself contain '=' (label=com.example.tier=web). Keys are matched
// case-insensitively and, as in docker, spaces around key and value are
// ignored. If allowed is not empty, only those keys are accepted.
func ParseFilters(args []string, allowed ...string) (Filters, error) {
	f := make(Filters)
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || key == "" {
			return nil, fmt.Errorf("invalid filter '%s': want key=value", arg)
		}
		if len(allowed) > 0 && !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, key) }) {
			valid := slices.Clone(allowed)
			slices.Sort(valid)
			return nil, fmt.Errorf("invalid filter '%s': unknown key; valid keys are: %s", key, strings.Join(valid, ", "))
		}
		value = strings.TrimSpace(value)
		if !slices.Contains(f[key], value) {
			f[key] = append(f[key], value)
		}
	}
	return f, nil
}

// Has reports whether any filter was given for key.
func (f Filters) Has(key string) bool {
	return len(f[key]) > 0
}

// Match reports whether value passes the filters for key: true when there
// are none, or when value equals one of them.
func (f Filters) Match(key, value string) bool {
	return !f.Has(key) || slices.Contains(f[key], value)
}

// MatchPrefix is Match for IDs and names, which docker matches by prefix:
// true when there are no filters for key, or when value starts with one of
// them.
func (f Filters) MatchPrefix(key, value string) bool {
	if !f.Has(key) {
		return true
	}
	for _, v := range f[key] {
		if strings.HasPrefix(value, v) {
			return true
		}
	}
	return false
}
