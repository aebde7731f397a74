// Package spec checks and completes service specs: the rules every
// service must meet, whoever submits it, the limits that bound what one
// spec may cost (limits.go), and the defaults Docker applies.
package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"

	"sw/cluster/types"
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$`)

// Defaults fills what the user left empty with Docker's defaults.
func Defaults(s *types.ServiceSpec) {
	if s.Mode == "" {
		s.Mode = types.ModeReplicated
	}
	if s.Restart.Condition == "" {
		s.Restart.Condition = types.RestartAny
		if s.Mode.Job() {
			s.Restart.Condition = types.RestartOnFailure // a job's tasks are meant to end
		}
	}
	if s.Mode == types.ModeReplicatedJob && s.MaxConcurrent == 0 {
		s.MaxConcurrent = s.Replicas // Docker's: all at once
	}
	for _, c := range []**types.UpdateConfig{&s.Update, &s.Rollback} {
		if *c == nil {
			d := types.DefaultUpdateConfig()
			*c = &d
		} else if (*c).Order == "" || (*c).FailureAction == "" {
			v := **c
			if v.Order == "" {
				v.Order = types.OrderStopFirst
			}
			if v.FailureAction == "" {
				v.FailureAction = types.FailurePause
			}
			*c = &v
		}
	}
	if s.Container.StopGracePeriod == 0 {
		s.Container.StopGracePeriod = types.DefaultStopGracePeriod
	}
	for i := range s.Ports {
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = "tcp"
		}
		if s.Ports[i].PublishMode == "" {
			s.Ports[i].PublishMode = "ingress"
		}
	}
}

// Validate returns every problem with a spec, joined, one per line: the
// rules of each field and the limits of limits.go. It never changes s.
func Validate(s *types.ServiceSpec) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !nameRE.MatchString(s.Name) {
		bad("invalid service name %q: use 1-63 letters, digits, '-' or '_', starting and ending with a letter or digit", clip(s.Name))
	}
	if s.Container.Image == "" {
		bad("no image given: a service needs an image to run")
	} else if err := ValidateImage(s.Container.Image); err != nil {
		errs = append(errs, err)
	}
	switch s.Mode {
	case types.ModeReplicated, types.ModeReplicatedJob:
		if s.Replicas > MaxReplicas {
			bad("invalid replicas %d: the limit is %d per service", s.Replicas, MaxReplicas)
		}
	case types.ModeGlobal, types.ModeGlobalJob:
		if s.Replicas != 0 {
			bad("replicas can only be used with replicated or replicated-job mode")
		}
	default:
		bad("invalid mode %q: want replicated, global, replicated-job or global-job", clip(string(s.Mode)))
	}
	if s.MaxConcurrent != 0 && s.Mode != types.ModeReplicatedJob {
		bad("max-concurrent can only be used with replicated-job mode")
	}
	errs = append(errs, validateRestart(s.Restart)...)
	errs = append(errs, validateResources(s.Container.Resources)...)
	errs = append(errs, validateUpdate("update", s.Update)...)
	errs = append(errs, validateUpdate("rollback", s.Rollback)...)
	errs = append(errs, validateContainer(&s.Container)...)
	errs = append(errs, validateLabels("label", s.Labels)...)
	errs = append(errs, validatePorts(s.Ports)...)
	errs = append(errs, validateConstraints(s.Placement.Constraints)...)
	errs = append(errs, validatePreferences(s.Placement.Preferences)...)
	if s.Placement.MaxReplicas > 0 && s.Mode != types.ModeReplicated && s.Mode != types.ModeReplicatedJob {
		bad("replicas-max-per-node can only be used with replicated or replicated-job mode")
	}
	for _, f := range []struct{ name, v string }{{"endpoint mode", string(s.EndpointMode)}} {
		if len(f.v) > MaxShortLen {
			bad("invalid %s: %d bytes long, the limit is %d", f.name, len(f.v), MaxShortLen)
		}
	}
	if b, err := json.Marshal(s); err == nil {
		switch {
		case len(b) > MaxSpecBytes:
			bad("service spec too large: %d bytes encoded, the limit is %d", len(b), MaxSpecBytes)
		case !s.Mode.PerNode() && s.Replicas > 0 && uint64(len(b)) > MaxTasksBytes/s.Replicas:
			bad("invalid replicas %d: with a spec of %d bytes encoded, the most replicas are %d (replicas times the spec's size is limited to %d bytes, as every task keeps a copy)",
				s.Replicas, len(b), MaxTasksBytes/len(b), MaxTasksBytes)
		}
	}
	return errors.Join(errs...)
}

// ValidateImage checks an image reference as Docker's service create
// takes it: a name with an optional registry, tag and digest
// ("busybox", "127.0.0.1:5999/none:1", "name@sha256:<64 hex>"), or a full
// image ID (64 hex digits, with or without "sha256:").
func ValidateImage(image string) error {
	if len(image) > MaxImageLen {
		return fmt.Errorf("invalid image: %d bytes long, the limit is %d", len(image), MaxImageLen)
	}
	if _, err := reference.ParseAnyReference(image); err != nil {
		return fmt.Errorf("invalid image %q: %w", image, err)
	}
	return nil
}

func validateRestart(r types.RestartPolicy) []error {
	var errs []error
	switch r.Condition {
	case types.RestartAny, types.RestartOnFailure, types.RestartNone:
	default:
		errs = append(errs, fmt.Errorf("invalid restart condition %q: want any, on-failure or none", clip(string(r.Condition))))
	}
	switch {
	case r.Delay < 0:
		errs = append(errs, fmt.Errorf("invalid restart delay %s: must not be negative", r.Delay))
	case r.Delay > MaxRestartDelay:
		errs = append(errs, fmt.Errorf("invalid restart delay %s: the limit is %s", r.Delay, MaxRestartDelay))
	}
	switch {
	case r.Window < 0:
		errs = append(errs, fmt.Errorf("invalid restart window %s: must not be negative", r.Window))
	case r.Window > MaxRestartDelay:
		errs = append(errs, fmt.Errorf("invalid restart window %s: the limit is %s", r.Window, MaxRestartDelay))
	}
	if r.MaxAttempts > MaxRestartAttempts {
		errs = append(errs, fmt.Errorf("invalid restart max attempts %d: the limit is %d", r.MaxAttempts, MaxRestartAttempts))
	}
	return errs
}

// validateResources checks limits and reservations: none negative, and
// no reservation above its limit.
func validateResources(r *types.ResourceRequirements) []error {
	if r == nil {
		return nil
	}
	var errs []error
	var lim, res types.Resources
	if r.Limits != nil {
		lim = *r.Limits
	}
	if r.Reservations != nil {
		res = *r.Reservations
	}
	for _, v := range []struct {
		what string
		n    int64
	}{{"CPU limit", lim.NanoCPUs}, {"memory limit", lim.MemoryBytes}, {"pids limit", lim.Pids},
		{"CPU reservation", res.NanoCPUs}, {"memory reservation", res.MemoryBytes}} {
		if v.n < 0 {
			errs = append(errs, fmt.Errorf("invalid %s %d: must not be negative", v.what, v.n))
		}
	}
	if res.Pids != 0 {
		errs = append(errs, errors.New("invalid reservation: pids can only be limited, not reserved"))
	}
	if lim.NanoCPUs > 0 && res.NanoCPUs > lim.NanoCPUs {
		errs = append(errs, fmt.Errorf("invalid CPU reservation %g: above the limit of %g", float64(res.NanoCPUs)/1e9, float64(lim.NanoCPUs)/1e9))
	}
	if lim.MemoryBytes > 0 && res.MemoryBytes > lim.MemoryBytes {
		errs = append(errs, fmt.Errorf("invalid memory reservation %d bytes: above the limit of %d", res.MemoryBytes, lim.MemoryBytes))
	}
	return errs
}

// validateUpdate checks an update or rollback configuration (nil: the
// defaults, valid).
func validateUpdate(what string, u *types.UpdateConfig) []error {
	if u == nil {
		return nil
	}
	var errs []error
	if _, err := types.ParseFailureAction(clip(u.FailureAction), what == "rollback"); err != nil && u.FailureAction != "" {
		errs = append(errs, err)
	}
	if _, err := types.ParseOrder(clip(u.Order)); err != nil && u.Order != "" {
		errs = append(errs, fmt.Errorf("invalid %s order %q: want stop-first or start-first", what, clip(u.Order)))
	}
	if !(u.MaxFailureRatio >= 0 && u.MaxFailureRatio <= 1) { // NaN fails too
		errs = append(errs, fmt.Errorf("invalid %s max failure ratio %v: want a number from 0 to 1", what, u.MaxFailureRatio))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"delay", u.Delay}, {"monitor", u.Monitor}} {
		switch {
		case d.v < 0:
			errs = append(errs, fmt.Errorf("invalid %s %s %s: must not be negative", what, d.name, d.v))
		case d.v > MaxUpdateWait:
			errs = append(errs, fmt.Errorf("invalid %s %s %s: the limit is %s", what, d.name, d.v, MaxUpdateWait))
		}
	}
	if u.Parallelism > MaxReplicas {
		errs = append(errs, fmt.Errorf("invalid %s parallelism %d: the limit is %d", what, u.Parallelism, MaxReplicas))
	}
	return errs
}

func validateContainer(c *types.ContainerSpec) []error {
	var errs []error
	for _, l := range []struct {
		what string
		list []string
	}{{"command", c.Command}, {"args", c.Args}} {
		errs = append(errs, entries(l.what+" entries", l.list, MaxArgs, func(i int, a string) error {
			return checkArg(l.what, i, a)
		})...)
	}
	errs = append(errs, entries("env entries", c.Env, MaxEnv, func(i int, e string) error { return checkEnv(i, e) })...)
	errs = append(errs, validateLabels("container label", c.Labels)...)
	switch g := c.StopGracePeriod; {
	case g < 0:
		errs = append(errs, fmt.Errorf("invalid stop grace period %s: must not be negative", g))
	case g > MaxStopGracePeriod:
		errs = append(errs, fmt.Errorf("invalid stop grace period %s: the limit is %s", g, MaxStopGracePeriod))
	}
	errs = append(errs, validateOptions(c)...)
	return append(errs, validateHealth(c.Healthcheck)...)
}

// validateOptions checks the container options: sizes, and the values an
// engine would refuse only when a task starts (the CLI has checked its
// flags already; this is for every API client).
func validateOptions(c *types.ContainerSpec) []error {
	var errs []error
	for _, s := range []struct{ what, v string }{{"hostname", c.Hostname}, {"working directory", c.Dir},
		{"user", c.User}, {"stop signal", c.StopSignal}} {
		if len(s.v) > MaxShortLen {
			errs = append(errs, fmt.Errorf("invalid %s: %d bytes long, the limit is %d", s.what, len(s.v), MaxShortLen))
		}
	}
	if c.Dir != "" && !strings.HasPrefix(c.Dir, "/") {
		errs = append(errs, fmt.Errorf("invalid working directory %q: want an absolute path", clip(c.Dir)))
	}
	short := func(what string, list []string) {
		errs = append(errs, entries(what, list, MaxArgs, func(i int, v string) error {
			if v == "" || len(v) > MaxShortLen {
				return fmt.Errorf("invalid %s %d: want 1 to %d bytes", what, i+1, MaxShortLen)
			}
			return nil
		})...)
	}
	short("group", c.Groups)
	short("capability", append(append([]string(nil), c.CapabilityAdd...), c.CapabilityDrop...))
	if d := c.DNSConfig; d != nil {
		short("DNS server", d.Nameservers)
		short("DNS search domain", d.Search)
		short("DNS option", d.Options)
		for _, ns := range d.Nameservers {
			if _, err := netip.ParseAddr(ns); err != nil {
				errs = append(errs, fmt.Errorf("invalid DNS server %q: want an IP address", clip(ns)))
			}
		}
	}
	errs = append(errs, validateLabels("sysctl", c.Sysctls)...)
	errs = append(errs, entries("ulimits", c.Ulimits, MaxArgs, func(i int, u types.Ulimit) error {
		if _, err := units.ParseUlimit(fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)); err != nil {
			return fmt.Errorf("invalid ulimit %q: %w", clip(u.Name), err)
		}
		return nil
	})...)
	return errs
}

// checkArg checks one command or argument entry: what execve can carry.
func checkArg(what string, i int, a string) error {
	switch {
	case len(a) > MaxArgLen:
		return fmt.Errorf("invalid %s entry %d: %d bytes long, the limit is %d", what, i+1, len(a), MaxArgLen)
	case strings.IndexByte(a, 0) >= 0:
		return fmt.Errorf("invalid %s entry %d %q: it holds a NUL byte", what, i+1, clip(a))
	}
	return nil
}

// checkEnv checks one environment entry: KEY=VALUE with a non-empty key.
// A bare KEY, which Docker's CLI fills in from its own environment, is
// the CLI's to expand: the daemon has no environment of the user's.
func checkEnv(i int, e string) error {
	k, _, ok := strings.Cut(e, "=")
	switch {
	case len(e) > MaxEnvLen:
		return fmt.Errorf("invalid env entry %d: %d bytes long, the limit is %d", i+1, len(e), MaxEnvLen)
	case strings.IndexByte(e, 0) >= 0:
		return fmt.Errorf("invalid env entry %q: it holds a NUL byte", clip(e))
	case !ok:
		return fmt.Errorf("invalid env entry %q: want KEY=VALUE", clip(e))
	case k == "":
		return fmt.Errorf("invalid env entry %q: the key is empty", clip(e))
	}
	return nil
}

// validateLabels checks a label map; what names it in errors ("label",
// "container label").
func validateLabels(what string, labels map[string]string) []error {
	keys := slices.Sorted(maps.Keys(labels))
	return entries(what+"s", keys, MaxLabels, func(_ int, k string) error {
		v := labels[k]
		switch {
		case k == "":
			return fmt.Errorf("invalid %s: the key is empty", what)
		case len(k) > MaxLabelKeyLen:
			return fmt.Errorf("invalid %s %q: the key is %d bytes long, the limit is %d", what, clip(k), len(k), MaxLabelKeyLen)
		case len(v) > MaxLabelValueLen:
			return fmt.Errorf("invalid %s %q: the value is %d bytes long, the limit is %d", what, clip(k), len(v), MaxLabelValueLen)
		}
		return nil
	})
}

func validateConstraints(cs []string) []error {
	return entries("placement constraints", cs, MaxConstraints, func(i int, c string) error {
		if len(c) > MaxConstraintLen {
			return fmt.Errorf("invalid placement constraint %d: %d bytes long, the limit is %d", i+1, len(c), MaxConstraintLen)
		}
		return nil
	})
}

func validatePreferences(ps []types.PlacementPreference) []error {
	return entries("placement preferences", ps, MaxConstraints, func(i int, p types.PlacementPreference) error {
		switch {
		case p.Spread == nil:
			return fmt.Errorf("invalid placement preference %d: only spread preferences are supported", i+1)
		case len(p.Spread.SpreadDescriptor) > MaxConstraintLen:
			return fmt.Errorf("invalid placement preference %d: %d bytes long, the limit is %d", i+1, len(p.Spread.SpreadDescriptor), MaxConstraintLen)
		case p.SpreadLabel() == "":
			return fmt.Errorf("invalid placement preference %q: want spread=node.labels.<key>", clip(p.Spread.SpreadDescriptor))
		}
		return nil
	})
}

func validatePorts(ports []types.PortConfig) []error {
	seen := map[string]bool{}
	return entries("ports", ports, MaxPorts, func(_ int, p types.PortConfig) error {
		var errs []error
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			errs = append(errs, fmt.Errorf("invalid protocol %q for port %d: want tcp or udp", clip(p.Protocol), p.TargetPort))
		}
		if p.PublishMode != "" && p.PublishMode != "ingress" && p.PublishMode != "host" {
			errs = append(errs, fmt.Errorf("invalid publish mode %q for port %d: want ingress or host", clip(p.PublishMode), p.TargetPort))
		}
		if p.TargetPort == 0 {
			errs = append(errs, fmt.Errorf("invalid target port 0: want 1-65535"))
		}
		if p.PublishedPort == 0 {
			errs = append(errs, fmt.Errorf("published port for target %d/%s is missing", p.TargetPort, clip(p.Protocol)))
			return errors.Join(errs...)
		}
		k := fmt.Sprintf("%d/%s", p.PublishedPort, clip(p.Protocol))
		if seen[k] {
			errs = append(errs, fmt.Errorf("port %s is published more than once", k))
		}
		seen[k] = true
		return errors.Join(errs...)
	})
}

// entries checks a list against its limit, then each entry with check;
// what names the list in errors. It spells out the first maxReported bad
// entries and counts the rest.
func entries[T any](what string, list []T, limit int, check func(i int, v T) error) []error {
	if len(list) > limit {
		return []error{fmt.Errorf("too many %s: %d, the limit is %d", what, len(list), limit)}
	}
	var errs []error
	more := 0
	for i, v := range list {
		if err := check(i, v); err != nil {
			if len(errs) < maxReported {
				errs = append(errs, err)
			} else {
				more++
			}
		}
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("and %d more invalid %s", more, what))
	}
	return errs
}

// clip shortens a value quoted in an error, so that an error about a huge
// value is not huge itself.
func clip(s string) string {
	const keep = 64
	if len(s) <= keep {
		return s
	}
	return s[:keep] + "..."
}
