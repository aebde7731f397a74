package spec

import (
	"strings"
	"testing"
	"time"

	"sw/cluster/types"
)

func TestValidateHealth(t *testing.T) {
	base := func(h *types.HealthConfig) *types.ServiceSpec {
		s := &types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 1,
			Restart: types.RestartPolicy{Condition: types.RestartAny}, Container: types.ContainerSpec{Image: "nginx", Healthcheck: h}}
		return s
	}
	for _, tc := range []struct {
		name string
		h    *types.HealthConfig
		want string // "" = valid
	}{
		{"none given", nil, ""},
		{"inherit with new timing", &types.HealthConfig{Interval: time.Second, Retries: 2}, ""},
		{"shell", &types.HealthConfig{Test: []string{"CMD-SHELL", "test -f /tmp/ok"}, Interval: 500 * time.Millisecond}, ""},
		{"exec", &types.HealthConfig{Test: []string{"CMD", "/demoapp", "health"}}, ""},
		{"disabled", &types.HealthConfig{Test: []string{"NONE"}}, ""},
		{"unknown kind", &types.HealthConfig{Test: []string{"RUN", "x"}}, "want NONE, CMD or CMD-SHELL"},
		{"empty exec", &types.HealthConfig{Test: []string{"CMD"}}, "CMD needs a command"},
		{"empty shell", &types.HealthConfig{Test: []string{"CMD-SHELL", ""}}, "CMD-SHELL takes one command line"},
		{"NONE with args", &types.HealthConfig{Test: []string{"NONE", "x"}}, "NONE takes no arguments"},
		{"tiny interval", &types.HealthConfig{Interval: time.Microsecond}, "interval 1µs: must be 0 or at least 1ms"},
		{"negative timeout", &types.HealthConfig{Timeout: -time.Second}, "timeout -1s"},
		{"negative start period", &types.HealthConfig{StartPeriod: -time.Second}, "start period -1s"},
		{"negative retries", &types.HealthConfig{Retries: -1}, "retries -1: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(base(tc.h))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
