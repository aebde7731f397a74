package commands

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sw/cluster/spec"
	"sw/cluster/types"
)

// accepted checks that the daemon accepts a spec the CLI built from
// flags it accepted: what the CLI lets through, the daemon takes.
func accepted(t *testing.T, what string, mod func(*types.ServiceSpec)) {
	t.Helper()
	s := types.ServiceSpec{Name: "web", Replicas: 1, Container: types.ContainerSpec{Image: "busybox"}}
	mod(&s)
	spec.Defaults(&s)
	if err := spec.Validate(&s); err != nil {
		t.Fatalf("%s: the CLI accepted it, the daemon refuses it: %v", what, err)
	}
}

// FuzzParsePort: an accepted --publish value is a valid port that
// re-renders, in the long form and (for ingress) the short one, to
// itself, and that the daemon accepts.
func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"8080:80", "80", "53:53/udp", "1:65535/TCP", "published=8080,target=80",
		"target=53,protocol=udp,mode=host", "mode=ingress,target=1", " published = 1 ,target=2", "70000:80", "80:",
		"1:2/sctp", "target=0", "published=1", "x=1", "8080:80:90", "=", ":", "/udp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid port") {
				t.Fatalf("ParsePort(%q) error %q does not say invalid port", s, err)
			}
			return
		}
		if p.TargetPort == 0 || (p.Protocol != "tcp" && p.Protocol != "udp") || (p.PublishMode != "ingress" && p.PublishMode != "host") {
			t.Fatalf("ParsePort(%q) = %+v: not a valid port", s, p)
		}
		long := fmt.Sprintf("target=%d,protocol=%s,mode=%s", p.TargetPort, p.Protocol, p.PublishMode)
		if p.PublishedPort != 0 {
			long = fmt.Sprintf("published=%d,", p.PublishedPort) + long
		}
		forms := []string{long}
		if p.PublishMode == "ingress" {
			short := fmt.Sprintf("%d/%s", p.TargetPort, p.Protocol)
			if p.PublishedPort != 0 {
				short = fmt.Sprintf("%d:%s", p.PublishedPort, short)
			}
			forms = append(forms, short)
		}
		for _, form := range forms {
			if back, err := ParsePort(form); err != nil || back != p {
				t.Fatalf("ParsePort(%q) = %+v, re-rendered %q parses to %+v, %v", s, p, form, back, err)
			}
		}
		if p.PublishedPort != 0 {
			accepted(t, s, func(sp *types.ServiceSpec) { sp.Ports = []types.PortConfig{p} })
		}
	})
}

// FuzzParseEnv: accepted entries are KEY=VALUE with a non-empty key and
// no NUL, stay as they are when parsed again, and the daemon takes them.
func FuzzParseEnv(f *testing.F) {
	for _, s := range []string{"A=1", "A=1\nB=x=y", "HOME", "NOPE", "=1", "", "A=\x00", "EMPTY\nA=", "K==", " K=1"} {
		f.Add(s)
	}
	environ := map[string]string{"HOME": "/home/me", "EMPTY": "", "SPACE": " a b "}
	lookup := func(k string) (string, bool) { v, ok := environ[k]; return v, ok }
	f.Fuzz(func(t *testing.T, s string) {
		vals := strings.Split(s, "\n")
		out, err := ParseEnv(vals, lookup)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid environment variable") {
				t.Fatalf("ParseEnv(%q) error %q", vals, err)
			}
			return
		}
		if len(out) != len(vals) {
			t.Fatalf("ParseEnv(%q) = %q: %d entries for %d", vals, out, len(out), len(vals))
		}
		for _, e := range out {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" || strings.IndexByte(e, 0) >= 0 {
				t.Fatalf("ParseEnv(%q) gave %q, not KEY=VALUE", vals, e)
			}
		}
		if again, err := ParseEnv(out, lookup); err != nil || !slices.Equal(again, out) {
			t.Fatalf("ParseEnv(%q) = %q, again %q, %v", vals, out, again, err)
		}
		if len(out) <= spec.MaxEnv && !slices.ContainsFunc(out, func(e string) bool { return len(e) > spec.MaxEnvLen }) {
			accepted(t, s, func(sp *types.ServiceSpec) { sp.Container.Env = out })
		}
	})
}

// FuzzParseLabels: accepted labels have non-empty keys and re-render to
// the same map.
func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{"a=b", "a", "a=b=c\nd=", "=x", "", "a=1\na=2", "com.example.tier=web"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vals := strings.Split(s, "\n")
		m, err := ParseLabels(vals)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid label") {
				t.Fatalf("ParseLabels(%q) error %q", vals, err)
			}
			return
		}
		var again []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if k == "" {
				t.Fatalf("ParseLabels(%q) gave an empty key", vals)
			}
			again = append(again, k+"="+m[k])
		}
		if back, err := ParseLabels(again); err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("ParseLabels(%q) = %v; re-rendered %q parses to %v, %v", vals, m, again, back, err)
		}
	})
}

// FuzzParseReplicas: an accepted count is within the limit and reads
// back the same.
func FuzzParseReplicas(f *testing.F) {
	for _, s := range []string{"0", "1", " 3 ", "100000", "100001", "-1", "9223372036854775807", "9223372036854775808", "1e3", "+5", "0x10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseReplicas(s)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid replicas value") {
				t.Fatalf("ParseReplicas(%q) error %q", s, err)
			}
			return
		}
		if n > spec.MaxReplicas {
			t.Fatalf("ParseReplicas(%q) = %d, over the limit", s, n)
		}
		if back, err := ParseReplicas(strconv.FormatUint(n, 10)); err != nil || back != n {
			t.Fatalf("ParseReplicas(%q) = %d, back %d, %v", s, n, back, err)
		}
	})
}

// FuzzParseRestart: an accepted policy is valid, re-renders (as service
// update does) to itself, and the daemon takes it when within limits.
func FuzzParseRestart(f *testing.F) {
	f.Add("any", "5s", "0")
	f.Add("on-failure", "100ms", "3")
	f.Add("none", "", "")
	f.Add("always", "-1s", "x")
	f.Add("", "1h2m3.5s", "18446744073709551615")
	f.Add("", "9223372036854775807ns", "")
	f.Fuzz(func(t *testing.T, cond, delay, max string) {
		pol, err := ParseRestart(cond, delay, max)
		if err != nil {
			return
		}
		switch pol.Condition {
		case types.RestartAny, types.RestartOnFailure, types.RestartNone:
		default:
			t.Fatalf("ParseRestart(%q, %q, %q) gave condition %q", cond, delay, max, pol.Condition)
		}
		if pol.Delay < 0 {
			t.Fatalf("ParseRestart(%q, %q, %q) gave a negative delay %s", cond, delay, max, pol.Delay)
		}
		back, err := ParseRestart(string(pol.Condition), pol.Delay.String(), strconv.FormatUint(pol.MaxAttempts, 10))
		if err != nil || back != pol {
			t.Fatalf("ParseRestart(%q, %q, %q) = %+v; re-rendered gives %+v, %v", cond, delay, max, pol, back, err)
		}
		if pol.Delay <= spec.MaxRestartDelay && pol.MaxAttempts <= spec.MaxRestartAttempts {
			accepted(t, fmt.Sprint(cond, delay, max), func(sp *types.ServiceSpec) { sp.Restart = pol })
		}
	})
}

// FuzzHealthFlags: an accepted --health-interval (and the like) is 0 or
// at least 1ms and prints back to itself; an accepted --health-cmd makes
// a test the daemon accepts.
func FuzzHealthFlags(f *testing.F) {
	for _, s := range []string{"30s", "0", "500ms", "1us", "-1s", "1h", "abc", "", `["/app","check"]`, `[]`, `[""]`,
		"curl -f http://localhost/", `["a", 1]`, "[", "  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := healthDuration(flagHealthInterval, s); err == nil {
			if d < 0 || (d > 0 && d < spec.MinHealthDuration) {
				t.Fatalf("healthDuration(%q) = %s", s, d)
			}
			if back, err := healthDuration(flagHealthInterval, d.String()); err != nil || back != d {
				t.Fatalf("healthDuration(%q) = %s; back %s, %v", s, d, back, err)
			}
			if d <= spec.MaxHealthDuration {
				accepted(t, s, func(sp *types.ServiceSpec) { sp.Container.Healthcheck = &types.HealthConfig{Interval: d, Timeout: d} })
			}
		} else if !strings.Contains(err.Error(), "--"+flagHealthInterval) {
			t.Fatalf("healthDuration(%q) error %q does not name the flag", s, err)
		}
		test, err := healthTest(s)
		if err != nil || test == nil {
			return
		}
		if test[0] != "CMD" && test[0] != "CMD-SHELL" {
			t.Fatalf("healthTest(%q) = %q", s, test)
		}
		if len(test) <= spec.MaxArgs && !slices.ContainsFunc(test, func(a string) bool {
			return len(a) > spec.MaxArgLen || strings.IndexByte(a, 0) >= 0
		}) {
			accepted(t, s, func(sp *types.ServiceSpec) { sp.Container.Healthcheck = &types.HealthConfig{Test: test} })
		}
	})
}
