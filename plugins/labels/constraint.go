package labels

import (
	"fmt"
	"regexp"
	"strings"

	"sw/cluster/types"
)

// Op is a constraint's operator.
type Op string

// The operators, as Docker's: equal and not equal.
const (
	Equal    Op = "=="
	NotEqual Op = "!="
)

// Constraint is one parsed placement constraint, e.g. node.labels.zone==east.
type Constraint struct {
	// Key is the node attribute: node.id, node.hostname, node.role,
	// node.platform.os, node.platform.arch or node.labels.NAME.
	Key   string
	Op    Op
	Value string
}

// String renders the constraint as it is written.
func (c Constraint) String() string { return c.Key + string(c.Op) + c.Value }

const labelPrefix = "node.labels."

var (
	// keyPattern and valuePattern are swarmkit's.
	keyPattern   = regexp.MustCompile(`^(?i)[a-z_][a-z0-9\-_.]+$`)
	valuePattern = regexp.MustCompile(`^(?i)[a-z0-9:\-_\s.*()?+\[\]\\^$|/]+$`)
)

// keys are the node attributes a constraint may test, besides labels.
var keys = map[string]func(*types.Node) string{
	"node.id":            func(n *types.Node) string { return n.ID },
	"node.hostname":      func(n *types.Node) string { return n.Hostname },
	"node.role":          func(n *types.Node) string { return string(n.Role) },
	"node.platform.os":   func(n *types.Node) string { return n.OS },
	"node.platform.arch": func(n *types.Node) string { return n.Arch },
}

// Parse reads one constraint, "KEY==VALUE" or "KEY!=VALUE"; spaces around
// the operator are allowed. Keys are case-insensitive except a label's
// name; values compare case-insensitively, as Docker's.
func Parse(s string) (Constraint, error) {
	i := strings.Index(s, string(Equal))
	op := Equal
	if j := strings.Index(s, string(NotEqual)); j >= 0 && (i < 0 || j < i) {
		i, op = j, NotEqual
	}
	if i < 0 {
		return Constraint{}, fmt.Errorf("labels: invalid constraint %q: want KEY==VALUE or KEY!=VALUE", s)
	}
	key, value := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+len(op):])
	if !keyPattern.MatchString(key) {
		return Constraint{}, fmt.Errorf("labels: invalid constraint %q: key %q is invalid", s, key)
	}
	if !valuePattern.MatchString(value) {
		return Constraint{}, fmt.Errorf("labels: invalid constraint %q: value %q is invalid", s, value)
	}
	lower := strings.ToLower(key)
	switch {
	case strings.HasPrefix(lower, labelPrefix):
		if len(key) == len(labelPrefix) {
			return Constraint{}, fmt.Errorf("labels: invalid constraint %q: no label name after %s", s, labelPrefix)
		}
		key = labelPrefix + key[len(labelPrefix):]
	case keys[lower] != nil:
		key = lower
	default:
		return Constraint{}, fmt.Errorf("labels: invalid constraint %q: unknown key %q (want node.id, node.hostname, node.role, "+
			"node.platform.os, node.platform.arch or node.labels.NAME)", s, key)
	}
	if key == "node.role" && !strings.EqualFold(value, string(types.RoleManager)) && !strings.EqualFold(value, string(types.RoleWorker)) {
		return Constraint{}, fmt.Errorf("labels: invalid constraint %q: node.role is manager or worker", s)
	}
	return Constraint{Key: key, Op: op, Value: value}, nil
}

// ParseAll reads every constraint, reporting the first bad one.
func ParseAll(ss []string) ([]Constraint, error) {
	out := make([]Constraint, 0, len(ss))
	for _, s := range ss {
		c, err := Parse(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Match reports whether node n meets the constraint. A label the node
// lacks reads as empty: it never equals a value, and is always unequal.
func (c Constraint) Match(n *types.Node) bool {
	var got string
	if name, ok := strings.CutPrefix(c.Key, labelPrefix); ok {
		got = n.Labels[name]
	} else if f := keys[c.Key]; f != nil {
		got = f(n)
	}
	return strings.EqualFold(got, c.Value) == (c.Op == Equal)
}

// MatchAll reports whether n meets every constraint.
func MatchAll(cs []Constraint, n *types.Node) bool {
	for _, c := range cs {
		if !c.Match(n) {
			return false
		}
	}
	return true
}
