package commands

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"sw/cluster/spec"
	"sw/cluster/types"
)

// ParsePort reads one --publish value: "PUBLISHED:TARGET[/PROTO]",
// "TARGET[/PROTO]" (the swarm picks the published port, 30000-32767), or
// the long form "[published=P,]target=T[,protocol=udp][,mode=ingress]".
func ParsePort(s string) (types.PortConfig, error) {
	p := types.PortConfig{Protocol: "tcp", PublishMode: "ingress"}
	if strings.Contains(s, "=") {
		return parseLongPort(s)
	}
	spec, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		p.Protocol = strings.ToLower(proto)
	}
	if p.Protocol != "tcp" && p.Protocol != "udp" {
		return p, fmt.Errorf("invalid port %q: protocol must be tcp or udp", s)
	}
	pub, target, ok := strings.Cut(spec, ":")
	var err error
	if !ok {
		target = pub
	} else if p.PublishedPort, err = portNumber(pub, s); err != nil {
		return p, err
	}
	if p.TargetPort, err = portNumber(target, s); err != nil {
		return p, err
	}
	return p, nil
}

func parseLongPort(s string) (types.PortConfig, error) {
	p := types.PortConfig{Protocol: "tcp", PublishMode: "ingress"}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "published":
			p.PublishedPort, err = portNumber(v, s)
		case "target":
			p.TargetPort, err = portNumber(v, s)
		case "protocol":
			p.Protocol = strings.ToLower(v)
			if p.Protocol != "tcp" && p.Protocol != "udp" {
				err = fmt.Errorf("invalid port %q: protocol must be tcp or udp", s)
			}
		case "mode":
			if v != "ingress" && v != "host" {
				err = fmt.Errorf("invalid port %q: mode must be ingress or host", s)
			}
			p.PublishMode = v
		default:
			err = fmt.Errorf("invalid port %q: unknown field %q", s, k)
		}
		if err != nil {
			return p, err
		}
	}
	if p.TargetPort == 0 {
		return p, fmt.Errorf("invalid port %q: target= is required", s)
	}
	return p, nil
}

func portNumber(s, whole string) (uint16, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q: %q is not a port number (1-65535)", whole, s)
	}
	return uint16(n), nil
}

// ParseReplicas reads --replicas: a whole number from zero to
// spec.MaxReplicas (the daemon enforces the limit too; this is to say so
// before anything is sent).
func ParseReplicas(s string) (uint64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("invalid replicas value %q: want a whole number", s)
	case n < 0:
		return 0, fmt.Errorf("invalid replicas value %q: must not be negative", s)
	case n > spec.MaxReplicas:
		return 0, fmt.Errorf("invalid replicas value %q: the limit is %d per service", s, spec.MaxReplicas)
	}
	return uint64(n), nil
}

// ParseEnv reads -e/--env/--env-add values: KEY=VALUE pairs, kept as they
// are, and bare KEYs, which take KEY's value from the CLI's environment
// (lookup, os.LookupEnv outside tests) as Docker's CLI does. Unlike
// Docker's, which passes an unset KEY on as it is, a KEY not set here is
// an error: the daemon refuses entries without '=', and a variable the
// user meant to pass should not silently go missing.
func ParseEnv(vals []string, lookup func(string) (string, bool)) ([]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		k, _, ok := strings.Cut(v, "=")
		switch {
		case k == "":
			return nil, fmt.Errorf("invalid environment variable %q: want KEY=VALUE", v)
		case strings.IndexByte(v, 0) >= 0:
			return nil, fmt.Errorf("invalid environment variable %q: it holds a NUL byte", v)
		case ok:
			out = append(out, v)
			continue
		}
		val, set := lookup(k)
		if !set {
			return nil, fmt.Errorf("invalid environment variable %q: want KEY=VALUE, or a KEY set in this shell's environment (it is not)", v)
		}
		out = append(out, k+"="+val)
	}
	return out, nil
}

// ParseLabels reads K=V labels into a map (a bare K means an empty value).
func ParseLabels(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		k, val, _ := strings.Cut(v, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid label %q: want KEY=VALUE", v)
		}
		out[k] = val
	}
	return out, nil
}

// ParseRestart reads the restart policy flags.
func ParseRestart(cond, delay, maxAttempts string) (types.RestartPolicy, error) {
	pol := types.RestartPolicy{Condition: types.RestartAny, Delay: types.DefaultRestartDelay}
	var errs []error
	if cond != "" {
		switch c := types.RestartCondition(cond); c {
		case types.RestartAny, types.RestartOnFailure, types.RestartNone:
			pol.Condition = c
		default:
			errs = append(errs, fmt.Errorf("invalid --restart-condition %q: want any, on-failure or none", cond))
		}
	}
	if delay != "" {
		d, err := time.ParseDuration(delay)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("invalid --restart-delay %q: want a duration such as 5s", delay))
		}
		pol.Delay = d
	}
	if maxAttempts != "" {
		n, err := strconv.ParseUint(maxAttempts, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid --restart-max-attempts %q: want a whole number", maxAttempts))
		}
		pol.MaxAttempts = n
	}
	return pol, errors.Join(errs...)
}

// updateEnv applies --env-rm then --env-add to a list of K=V pairs.
func updateEnv(env, add, rm []string) []string {
	drop := map[string]bool{}
	for _, k := range rm {
		key, _, _ := strings.Cut(k, "=")
		drop[key] = true
	}
	for _, kv := range add {
		key, _, _ := strings.Cut(kv, "=")
		drop[key] = true
	}
	var out []string
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if !drop[key] {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

// restartWindow applies --restart-window to pol, if given.
func restartWindow(c *cli.Context, pol *types.RestartPolicy) error {
	if !c.IsSet("restart-window") {
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(c.String("restart-window")))
	if err != nil || d < 0 {
		return fmt.Errorf("invalid --restart-window %q: want a duration such as 30s or 1m", c.String("restart-window"))
	}
	pol.Window = d
	return nil
}
