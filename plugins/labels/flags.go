package labels

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/types"
)

// Flag names, as Docker's.
const (
	flagConstraint    = "constraint"
	flagConstraintAdd = "constraint-add"
	flagConstraintRm  = "constraint-rm"
	flagLabelAdd      = "label-add"
	flagLabelRm       = "label-rm"
	flagPref          = "placement-pref"
	flagPrefAdd       = "placement-pref-add"
	flagPrefRm        = "placement-pref-rm"
)

// Extend adds --constraint to `service create`, --constraint-add and
// --constraint-rm to `service update`, and --label-add and --label-rm to
// `node update`.
func (*Plugin) Extend(path string, cmd *cli.Command) {
	switch path {
	case "service create":
		cmd.Flags = append(cmd.Flags,
			&cli.StringSliceFlag{Name: flagConstraint, Usage: "placement constraint, e.g. node.labels.zone==east (repeatable)"},
			&cli.StringSliceFlag{Name: flagPref, Usage: "placement preference, spread=node.labels.KEY (repeatable: each spreads within the one before)"})
	case "service update":
		cmd.Flags = append(cmd.Flags,
			&cli.StringSliceFlag{Name: flagConstraintAdd, Usage: "add a placement constraint (repeatable)"},
			&cli.StringSliceFlag{Name: flagConstraintRm, Usage: "remove a placement constraint (repeatable)"},
			&cli.StringSliceFlag{Name: flagPrefAdd, Usage: "add a placement preference, spread=node.labels.KEY (repeatable)"},
			&cli.StringSliceFlag{Name: flagPrefRm, Usage: "remove a placement preference (repeatable)"})
	case "node update":
		cmd.Flags = append(cmd.Flags,
			&cli.StringSliceFlag{Name: flagLabelAdd, Usage: "add or update a node label (KEY=VALUE or KEY; repeatable)"},
			&cli.StringSliceFlag{Name: flagLabelRm, Usage: "remove a node label (repeatable)"})
	}
}

// ApplyServiceFlags sets the constraints of a new spec (--constraint) or
// edits those of a stored one (--constraint-rm, then --constraint-add);
// each constraint is checked here already, and again by the daemon.
func (*Plugin) ApplyServiceFlags(c *cli.Context, spec *types.ServiceSpec, update bool) error {
	if !update {
		add := c.StringSlice(flagConstraint)
		if _, err := ParseAll(add); err != nil {
			return err
		}
		prefs, err := ParsePreferences(c.StringSlice(flagPref))
		if err != nil {
			return err
		}
		spec.Placement.Constraints = normalize(add)
		spec.Placement.Preferences = prefs
		return nil
	}
	add, rm := c.StringSlice(flagConstraintAdd), c.StringSlice(flagConstraintRm)
	prefAdd, err := ParsePreferences(c.StringSlice(flagPrefAdd))
	if err != nil {
		return err
	}
	if _, err := ParseAll(add); err != nil {
		return err
	}
	if len(add)+len(rm) > 0 {
		spec.Placement.Constraints = UpdateConstraints(spec.Placement.Constraints, add, rm)
	}
	if rmPrefs := c.StringSlice(flagPrefRm); len(prefAdd)+len(rmPrefs) > 0 {
		prefRm, err := ParsePreferences(rmPrefs)
		if err != nil {
			return err
		}
		spec.Placement.Preferences = UpdatePreferences(spec.Placement.Preferences, prefAdd, prefRm)
	}
	return nil
}

// ParsePreferences reads Docker's --placement-pref values:
// "spread=node.labels.KEY".
func ParsePreferences(vals []string) ([]types.PlacementPreference, error) {
	var out []types.PlacementPreference
	for _, v := range vals {
		kind, desc, ok := strings.Cut(strings.TrimSpace(v), "=")
		if !ok || kind != "spread" {
			return nil, fmt.Errorf("labels: invalid placement preference %q: want spread=node.labels.KEY", v)
		}
		p := types.PlacementPreference{Spread: &types.SpreadOver{SpreadDescriptor: desc}}
		if p.SpreadLabel() == "" {
			return nil, fmt.Errorf("labels: invalid placement preference %q: want spread=node.labels.KEY", v)
		}
		out = append(out, p)
	}
	return out, nil
}

// UpdatePreferences removes rm from ps, then appends add (the order of
// preferences is their nesting, so it is kept), without duplicates.
func UpdatePreferences(ps, add, rm []types.PlacementPreference) []types.PlacementPreference {
	has := func(list []types.PlacementPreference, p types.PlacementPreference) bool {
		return slices.ContainsFunc(list, func(q types.PlacementPreference) bool { return q.SpreadLabel() == p.SpreadLabel() })
	}
	var out []types.PlacementPreference
	for _, p := range ps {
		if !has(rm, p) && !has(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range add {
		if !has(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// UpdateConstraints removes rm from cs, then adds add, without duplicates
// and sorted (as Docker's service update does). Constraints compare with
// the spaces around them trimmed.
func UpdateConstraints(cs, add, rm []string) []string {
	out := make([]string, 0, len(cs)+len(add))
	for _, c := range cs {
		if !slices.Contains(normalize(rm), strings.TrimSpace(c)) {
			out = append(out, strings.TrimSpace(c))
		}
	}
	for _, c := range normalize(add) {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func normalize(cs []string) []string {
	if len(cs) == 0 {
		return nil
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = strings.TrimSpace(c)
	}
	return out
}

// ApplyNodeFlags puts --label-add and --label-rm into the request.
func (*Plugin) ApplyNodeFlags(c *cli.Context, req *api.NodeUpdateRequest) error {
	add, err := ParseNodeLabels(c.StringSlice(flagLabelAdd))
	if err != nil {
		return err
	}
	req.LabelAdd = add
	for _, k := range c.StringSlice(flagLabelRm) {
		if k == "" {
			return errors.New("labels: invalid --label-rm \"\": the key is empty")
		}
		req.LabelRm = append(req.LabelRm, k)
	}
	return nil
}

// ParseNodeLabels reads --label-add values, KEY=VALUE or KEY (an empty
// value), as Docker's node update.
func ParseNodeLabels(ss []string) (map[string]string, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(ss))
	for _, s := range ss {
		k, v, _ := strings.Cut(s, "=")
		if k == "" || strings.TrimSpace(k) != k {
			return nil, fmt.Errorf("labels: invalid label %q: want KEY=VALUE with a non-empty key", s)
		}
		out[k] = v
	}
	return out, nil
}
