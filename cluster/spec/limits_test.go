package spec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sw/cluster/types"
)

func repeat(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func labelMap(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

// TestLimits: each limit is accepted at its value and refused one past
// it, with an error naming the field, the value and the limit.
func TestLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		mod  func(*types.ServiceSpec)
		want []string // nil: valid
	}{
		{"replicas at the limit", func(s *types.ServiceSpec) { s.Replicas = MaxReplicas }, nil},
		{"replicas over", func(s *types.ServiceSpec) { s.Replicas = MaxReplicas + 1 },
			[]string{"invalid replicas 100001: the limit is 100000"}},
		{"replicas max int64", func(s *types.ServiceSpec) { s.Replicas = 9223372036854775807 },
			[]string{"invalid replicas 9223372036854775807: the limit is 100000"}},
		{"env at the limit", func(s *types.ServiceSpec) {
			s.Container.Env = repeat(MaxEnv, func(i int) string { return fmt.Sprintf("K%d=v", i) })
		}, nil},
		{"too many env entries", func(s *types.ServiceSpec) {
			s.Container.Env = repeat(MaxEnv+1, func(i int) string { return fmt.Sprintf("K%d=v", i) })
		}, []string{"too many env entries: 1025, the limit is 1024"}},
		{"env entry at the limit", func(s *types.ServiceSpec) { s.Container.Env = []string{"K=" + long(MaxEnvLen-2)} }, nil},
		{"env entry too long", func(s *types.ServiceSpec) { s.Container.Env = []string{"K=" + long(MaxEnvLen-1)} },
			[]string{"invalid env entry 1: 32769 bytes long, the limit is 32768"}},
		{"command entries over", func(s *types.ServiceSpec) { s.Container.Command = repeat(MaxArgs+1, func(int) string { return "x" }) },
			[]string{"too many command entries: 1025, the limit is 1024"}},
		{"args at the limit", func(s *types.ServiceSpec) { s.Container.Args = repeat(MaxArgs, func(int) string { return "x" }) }, nil},
		{"args over", func(s *types.ServiceSpec) { s.Container.Args = repeat(MaxArgs+1, func(int) string { return "x" }) },
			[]string{"too many args entries: 1025, the limit is 1024"}},
		{"arg too long", func(s *types.ServiceSpec) { s.Container.Args = []string{"ok", long(MaxArgLen + 1)} },
			[]string{"invalid args entry 2: 32769 bytes long, the limit is 32768"}},
		{"arg with NUL", func(s *types.ServiceSpec) { s.Container.Command = []string{"a\x00b"} },
			[]string{`invalid command entry 1 "a\x00b": it holds a NUL byte`}},
		{"labels at the limit", func(s *types.ServiceSpec) { s.Labels = labelMap(MaxLabels) }, nil},
		{"labels over", func(s *types.ServiceSpec) { s.Labels = labelMap(MaxLabels + 1) },
			[]string{"too many labels: 257, the limit is 256"}},
		{"container labels over", func(s *types.ServiceSpec) { s.Container.Labels = labelMap(MaxLabels + 1) },
			[]string{"too many container labels: 257, the limit is 256"}},
		{"label key too long", func(s *types.ServiceSpec) { s.Labels = map[string]string{long(MaxLabelKeyLen + 1): "v"} },
			[]string{"invalid label", "the key is 257 bytes long, the limit is 256"}},
		{"label value too long", func(s *types.ServiceSpec) { s.Labels = map[string]string{"k": long(MaxLabelValueLen + 1)} },
			[]string{`invalid label "k": the value is 4097 bytes long, the limit is 4096`}},
		{"empty label key", func(s *types.ServiceSpec) { s.Container.Labels = map[string]string{"": "v"} },
			[]string{"invalid container label: the key is empty"}},
		{"ports over", func(s *types.ServiceSpec) {
			s.Ports = nil
			for i := range MaxPorts + 1 {
				s.Ports = append(s.Ports, types.PortConfig{Protocol: "tcp", PublishedPort: uint16(1000 + i), TargetPort: 80, PublishMode: "ingress"})
			}
		}, []string{"too many ports: 1025, the limit is 1024"}},
		{"constraints at the limit", func(s *types.ServiceSpec) {
			s.Placement.Constraints = repeat(MaxConstraints, func(i int) string { return fmt.Sprintf("node.labels.k%d==v", i) })
		}, nil},
		{"constraints over", func(s *types.ServiceSpec) {
			s.Placement.Constraints = repeat(MaxConstraints+1, func(i int) string { return fmt.Sprintf("node.labels.k%d==v", i) })
		}, []string{"too many placement constraints: 65, the limit is 64"}},
		{"constraint too long", func(s *types.ServiceSpec) {
			s.Placement.Constraints = []string{"node.labels.k==" + long(MaxConstraintLen)}
		},
			[]string{"invalid placement constraint 1: 527 bytes long, the limit is 512"}},
		{"endpoint mode too long", func(s *types.ServiceSpec) { s.EndpointMode = types.EndpointMode(long(MaxShortLen + 1)) },
			[]string{"invalid endpoint mode: 257 bytes long, the limit is 256"}},
		{"restart delay at the limit", func(s *types.ServiceSpec) { s.Restart.Delay = MaxRestartDelay }, nil},
		{"restart delay over", func(s *types.ServiceSpec) { s.Restart.Delay = MaxRestartDelay + time.Second },
			[]string{"invalid restart delay 24h0m1s: the limit is 24h0m0s"}},
		{"restart attempts over", func(s *types.ServiceSpec) { s.Restart.MaxAttempts = MaxRestartAttempts + 1 },
			[]string{"invalid restart max attempts 1000001: the limit is 1000000"}},
		{"stop grace period negative", func(s *types.ServiceSpec) { s.Container.StopGracePeriod = -time.Second },
			[]string{"invalid stop grace period -1s: must not be negative"}},
		{"stop grace period over", func(s *types.ServiceSpec) { s.Container.StopGracePeriod = 25 * time.Hour },
			[]string{"invalid stop grace period 25h0m0s: the limit is 24h0m0s"}},
		{"health durations over", func(s *types.ServiceSpec) {
			s.Container.Healthcheck = &types.HealthConfig{Interval: 25 * time.Hour, Timeout: 25 * time.Hour, StartPeriod: 25 * time.Hour}
		}, []string{"invalid health check interval 25h0m0s: the limit is 24h0m0s", "invalid health check timeout 25h0m0s",
			"invalid health check start period 25h0m0s"}},
		{"health retries over", func(s *types.ServiceSpec) {
			s.Container.Healthcheck = &types.HealthConfig{Retries: MaxHealthRetries + 1}
		},
			[]string{"invalid health check retries 1001: the limit is 1000"}},
		{"health test entries over", func(s *types.ServiceSpec) {
			s.Container.Healthcheck = &types.HealthConfig{Test: append([]string{"CMD"}, repeat(MaxArgs, func(int) string { return "x" })...)}
		}, []string{"too many health check test entries: 1025, the limit is 1024"}},
		{"whole spec over", func(s *types.ServiceSpec) {
			s.Container.Env = repeat(MaxEnv, func(i int) string { return fmt.Sprintf("K%d=%s", i, long(1000)) })
		}, []string{"service spec too large:", "bytes encoded, the limit is 524288"}},
		{"many bad entries: five spelled out, the rest counted", func(s *types.ServiceSpec) {
			s.Container.Env = repeat(8, func(i int) string { return fmt.Sprintf("K%d", i) })
		}, []string{`invalid env entry "K0": want KEY=VALUE`, `invalid env entry "K4"`, "and 3 more invalid env entries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.mod(&s)
			err := Validate(&s)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", clip(err.Error())+"...", w)
				}
			}
			if len(err.Error()) > 4096 {
				t.Errorf("error is %d bytes long: errors about big values must stay short", len(err.Error()))
			}
		})
	}
}

func TestValidateImage(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		image string
		want  string // "" = valid
	}{
		{"busybox", ""},
		{"sw-demo:latest", ""},
		{"127.0.0.1:5999/none:1", ""},
		{"library/nginx:1.27-alpine", ""},
		{"ghcr.io/org/app/sub:v1.2.3", ""},
		{"localhost/app", ""},
		{"name@sha256:" + hex, ""},
		{"name:tag@sha256:" + hex, ""},
		{hex, ""},
		{"sha256:" + hex, ""},
		{"echo id:bars", "invalid reference format"},
		{"../../etc/passwd@@", "invalid reference format"},
		{"Busybox", "must be lowercase"},
		{"busybox:", "invalid reference format"},
		{"busybox@sha256:abc", "invalid"},
		{"busy box", "invalid reference format"},
		{" busybox", "invalid reference format"},
		{"a/" + strings.Repeat("b", 300), "must not be more than 255 characters"},
		{strings.Repeat("a", MaxImageLen+1), "513 bytes long, the limit is 512"},
	}
	for _, tt := range tests {
		t.Run(clip(tt.image), func(t *testing.T) {
			err := ValidateImage(tt.image)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ValidateImage(%q): %v, want no error", tt.image, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("ValidateImage(%q) = %v, want an error with %q", tt.image, err, tt.want)
			case tt.want != "" && len(tt.image) <= MaxImageLen && !strings.Contains(err.Error(), "invalid image"):
				t.Errorf("ValidateImage(%q) = %v, want it to say invalid image", tt.image, err)
			}
		})
	}
}

func TestValidateEnv(t *testing.T) {
	tests := []struct {
		env  string
		want string // "" = valid
	}{
		{"K=V", ""},
		{"K=", ""},
		{"K=a=b", ""},
		{"lower_case=1", ""},
		{"K", `invalid env entry "K": want KEY=VALUE`},
		{"=V", `invalid env entry "=V": the key is empty`},
		{"=", "the key is empty"},
		{"", `invalid env entry "": want KEY=VALUE`},
		{"K=a\x00b", "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			s := good()
			s.Container.Env = []string{tt.env}
			err := Validate(&s)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("env %q: %v, want no error", tt.env, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("env %q: %v, want an error with %q", tt.env, err, tt.want)
			}
		})
	}
}

// TestTasksBytesLimit: a big spec gets fewer replicas.
func TestTasksBytesLimit(t *testing.T) {
	s := types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Container: types.ContainerSpec{Image: "busybox"}}
	Defaults(&s)
	for i := 0; i < 8; i++ {
		s.Container.Env = append(s.Container.Env, "BIG="+strings.Repeat("x", 30000))
	}
	s.Replicas = 1000
	if err := Validate(&s); err != nil {
		t.Fatalf("1000 replicas of a 240 KB spec: %v", err)
	}
	s.Replicas = 2000
	if err := Validate(&s); err == nil || !strings.Contains(err.Error(), "the most replicas are 1") {
		t.Fatalf("2000 replicas of a 240 KB spec: %v", err)
	}
	s.Container.Env = nil
	s.Replicas = MaxReplicas
	if err := Validate(&s); err != nil {
		t.Fatalf("the most replicas of a small spec: %v", err)
	}
}
