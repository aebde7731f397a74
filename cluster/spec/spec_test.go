package spec

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/types"
)

func TestDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   types.ServiceSpec
		want types.ServiceSpec
	}{
		{name: "empty",
			in: types.ServiceSpec{},
			want: types.ServiceSpec{Mode: types.ModeReplicated, Restart: types.RestartPolicy{Condition: types.RestartAny},
				Container: types.ContainerSpec{StopGracePeriod: types.DefaultStopGracePeriod}}},
		{name: "ports completed",
			in: types.ServiceSpec{Ports: []types.PortConfig{{PublishedPort: 80, TargetPort: 8080},
				{Protocol: "udp", PublishedPort: 53, TargetPort: 53, PublishMode: "ingress"}}},
			want: types.ServiceSpec{Mode: types.ModeReplicated, Restart: types.RestartPolicy{Condition: types.RestartAny},
				Container: types.ContainerSpec{StopGracePeriod: types.DefaultStopGracePeriod},
				Ports: []types.PortConfig{{Protocol: "tcp", PublishMode: "ingress", PublishedPort: 80, TargetPort: 8080},
					{Protocol: "udp", PublishedPort: 53, TargetPort: 53, PublishMode: "ingress"}}}},
		{name: "given values kept",
			in: types.ServiceSpec{Name: "web", Mode: types.ModeGlobal,
				Restart:   types.RestartPolicy{Condition: types.RestartNone, Delay: time.Second, MaxAttempts: 2},
				Container: types.ContainerSpec{Image: "nginx", StopGracePeriod: time.Minute}},
			want: types.ServiceSpec{Name: "web", Mode: types.ModeGlobal,
				Restart:   types.RestartPolicy{Condition: types.RestartNone, Delay: time.Second, MaxAttempts: 2},
				Container: types.ContainerSpec{Image: "nginx", StopGracePeriod: time.Minute}}},
		{name: "update config completed, given values kept",
			in: types.ServiceSpec{Update: &types.UpdateConfig{Parallelism: 0, Delay: time.Second},
				Rollback: &types.UpdateConfig{Parallelism: 3, FailureAction: types.FailureContinue, Order: types.OrderStartFirst}},
			want: types.ServiceSpec{Mode: types.ModeReplicated, Restart: types.RestartPolicy{Condition: types.RestartAny},
				Container: types.ContainerSpec{StopGracePeriod: types.DefaultStopGracePeriod},
				Update: &types.UpdateConfig{Parallelism: 0, Delay: time.Second, FailureAction: types.FailurePause,
					Order: types.OrderStopFirst},
				Rollback: &types.UpdateConfig{Parallelism: 3, FailureAction: types.FailureContinue, Order: types.OrderStartFirst}}},
		{name: "invalid values left for Validate",
			in: types.ServiceSpec{Mode: "bogus", Restart: types.RestartPolicy{Condition: "sometimes"}},
			want: types.ServiceSpec{Mode: "bogus", Restart: types.RestartPolicy{Condition: "sometimes"},
				Container: types.ContainerSpec{StopGracePeriod: types.DefaultStopGracePeriod}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want.Update == nil {
				d := types.DefaultUpdateConfig()
				tt.want.Update, tt.want.Rollback = &d, &d
			}
			got := tt.in
			Defaults(&got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Defaults:\n got %+v\nwant %+v", got, tt.want)
			}
			again := got
			again.Ports = append([]types.PortConfig(nil), got.Ports...)
			Defaults(&again)
			if !reflect.DeepEqual(again, got) {
				t.Errorf("Defaults is not idempotent:\n once  %+v\n twice %+v", got, again)
			}
		})
	}
}

// good returns a valid spec, with Docker's defaults filled in.
func good() types.ServiceSpec {
	s := types.ServiceSpec{Name: "web", Replicas: 2, Container: types.ContainerSpec{Image: "nginx:1"},
		Ports: []types.PortConfig{{PublishedPort: 8080, TargetPort: 80}, {Protocol: "udp", PublishedPort: 8080, TargetPort: 80}}}
	Defaults(&s)
	return s
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*types.ServiceSpec)
		wantErr []string // substrings, each expected; nil for a valid spec
	}{
		{name: "good"},
		{name: "one-letter name", mod: func(s *types.ServiceSpec) { s.Name = "a" }},
		{name: "name with - and _", mod: func(s *types.ServiceSpec) { s.Name = "my_web-1" }},
		{name: "63 characters", mod: func(s *types.ServiceSpec) { s.Name = strings.Repeat("a", 63) }},
		{name: "global, no replicas", mod: func(s *types.ServiceSpec) { s.Mode, s.Replicas = types.ModeGlobal, 0 }},
		{name: "zero replicas", mod: func(s *types.ServiceSpec) { s.Replicas = 0 }},
		{name: "no ports", mod: func(s *types.ServiceSpec) { s.Ports = nil }},
		{name: "same port number, other protocol", mod: func(s *types.ServiceSpec) {
			s.Ports = []types.PortConfig{{Protocol: "tcp", PublishedPort: 53, TargetPort: 53}, {Protocol: "udp", PublishedPort: 53, TargetPort: 53}}
		}},
		{name: "same target, two published ports", mod: func(s *types.ServiceSpec) {
			s.Ports = []types.PortConfig{{Protocol: "tcp", PublishedPort: 80, TargetPort: 80}, {Protocol: "tcp", PublishedPort: 8080, TargetPort: 80}}
		}},
		{name: "each restart condition: none", mod: func(s *types.ServiceSpec) { s.Restart.Condition = types.RestartNone }},
		{name: "each restart condition: on-failure", mod: func(s *types.ServiceSpec) { s.Restart.Condition = types.RestartOnFailure }},
		{name: "zero delay", mod: func(s *types.ServiceSpec) { s.Restart.Delay = 0 }},
		{name: "placement: preferences and a cap", mod: func(s *types.ServiceSpec) {
			s.Placement.Preferences = []types.PlacementPreference{{Spread: &types.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}
			s.Placement.MaxReplicas = 2
		}},
		{name: "placement: a preference over something else", mod: func(s *types.ServiceSpec) {
			s.Placement.Preferences = []types.PlacementPreference{{Spread: &types.SpreadOver{SpreadDescriptor: "node.hostname"}}, {}}
		}, wantErr: []string{`invalid placement preference "node.hostname": want spread=node.labels.<key>`,
			"invalid placement preference 2: only spread preferences are supported"}},
		{name: "placement: a cap on a global service", mod: func(s *types.ServiceSpec) {
			s.Mode, s.Replicas, s.Placement.MaxReplicas = types.ModeGlobal, 0, 1
		}, wantErr: []string{"replicas-max-per-node can only be used with replicated or replicated-job mode"}},
		{name: "resources: limits and reservations", mod: func(s *types.ServiceSpec) {
			s.Container.Resources = &types.ResourceRequirements{Limits: &types.Resources{NanoCPUs: 1e9, MemoryBytes: 1 << 30, Pids: 100},
				Reservations: &types.Resources{NanoCPUs: 5e8, MemoryBytes: 1 << 29}}
		}},
		{name: "resources: negative, pids reserved, reservation above its limit", mod: func(s *types.ServiceSpec) {
			s.Container.Resources = &types.ResourceRequirements{Limits: &types.Resources{NanoCPUs: 1e9, MemoryBytes: -1},
				Reservations: &types.Resources{NanoCPUs: 2e9, Pids: 3}}
		}, wantErr: []string{"invalid memory limit -1: must not be negative", "pids can only be limited",
			"invalid CPU reservation 2: above the limit of 1"}},
		{name: "update: all at once, start-first, rollback on failure", mod: func(s *types.ServiceSpec) {
			s.Update = &types.UpdateConfig{Parallelism: 0, Order: types.OrderStartFirst, FailureAction: types.FailureRollback, MaxFailureRatio: 1}
		}},
		{name: "update: unknown failure action", mod: func(s *types.ServiceSpec) { s.Update.FailureAction = "explode" },
			wantErr: []string{`invalid update failure action "explode": want pause, continue or rollback`}},
		{name: "rollback cannot roll back", mod: func(s *types.ServiceSpec) { s.Rollback.FailureAction = types.FailureRollback },
			wantErr: []string{`invalid rollback failure action "rollback": want pause or continue`}},
		{name: "update: unknown order", mod: func(s *types.ServiceSpec) { s.Update.Order = "random" },
			wantErr: []string{`invalid update order "random"`}},
		{name: "update: ratio above 1", mod: func(s *types.ServiceSpec) { s.Update.MaxFailureRatio = 1.5 },
			wantErr: []string{"invalid update max failure ratio 1.5: want a number from 0 to 1"}},
		{name: "rollback: negative monitor", mod: func(s *types.ServiceSpec) { s.Rollback.Monitor = -time.Second },
			wantErr: []string{"invalid rollback monitor -1s: must not be negative"}},
		{name: "update: delay beyond the limit", mod: func(s *types.ServiceSpec) { s.Update.Delay = 25 * time.Hour },
			wantErr: []string{"invalid update delay 25h0m0s: the limit is 24h0m0s"}},

		{name: "empty name", mod: func(s *types.ServiceSpec) { s.Name = "" }, wantErr: []string{`invalid service name ""`}},
		{name: "leading dash", mod: func(s *types.ServiceSpec) { s.Name = "-x" }, wantErr: []string{`invalid service name "-x"`}},
		{name: "trailing dash", mod: func(s *types.ServiceSpec) { s.Name = "x-" }, wantErr: []string{`invalid service name "x-"`}},
		{name: "leading underscore", mod: func(s *types.ServiceSpec) { s.Name = "_x" }, wantErr: []string{"invalid service name"}},
		{name: "space", mod: func(s *types.ServiceSpec) { s.Name = "a b" }, wantErr: []string{`invalid service name "a b"`}},
		{name: "dot", mod: func(s *types.ServiceSpec) { s.Name = "a.b" }, wantErr: []string{"invalid service name"}},
		{name: "64 characters", mod: func(s *types.ServiceSpec) { s.Name = strings.Repeat("a", 64) }, wantErr: []string{"invalid service name"}},
		{name: "newline", mod: func(s *types.ServiceSpec) { s.Name = "web\n" }, wantErr: []string{"invalid service name"}},
		{name: "missing image", mod: func(s *types.ServiceSpec) { s.Container.Image = "" }, wantErr: []string{"no image given"}},
		{name: "global with replicas", mod: func(s *types.ServiceSpec) { s.Mode = types.ModeGlobal },
			wantErr: []string{"replicas can only be used with replicated or replicated-job mode"}},
		{name: "bad mode", mod: func(s *types.ServiceSpec) { s.Mode = "daemonset" }, wantErr: []string{`invalid mode "daemonset"`}},
		{name: "empty mode", mod: func(s *types.ServiceSpec) { s.Mode = "" }, wantErr: []string{`invalid mode ""`}},
		{name: "bad restart condition", mod: func(s *types.ServiceSpec) { s.Restart.Condition = "always" },
			wantErr: []string{`invalid restart condition "always"`}},
		{name: "negative delay", mod: func(s *types.ServiceSpec) { s.Restart.Delay = -time.Second },
			wantErr: []string{"invalid restart delay -1s"}},
		{name: "bad protocol", mod: func(s *types.ServiceSpec) { s.Ports[0].Protocol = "sctp" },
			wantErr: []string{`invalid protocol "sctp" for port 80`}},
		{name: "empty protocol", mod: func(s *types.ServiceSpec) { s.Ports[0].Protocol = "" },
			wantErr: []string{`invalid protocol ""`}},
		{name: "target 0", mod: func(s *types.ServiceSpec) { s.Ports[0].TargetPort = 0 },
			wantErr: []string{"invalid target port 0"}},
		{name: "published 0", mod: func(s *types.ServiceSpec) { s.Ports[0].PublishedPort = 0 },
			wantErr: []string{"published port for target 80/tcp is missing"}},
		{name: "duplicate published port", mod: func(s *types.ServiceSpec) {
			s.Ports = append(s.Ports, types.PortConfig{Protocol: "tcp", PublishedPort: 8080, TargetPort: 81, PublishMode: "ingress"})
		}, wantErr: []string{"port 8080/tcp is published more than once"}},
		{name: "two problems, both reported", mod: func(s *types.ServiceSpec) { s.Name, s.Container.Image = "a b", "" },
			wantErr: []string{`invalid service name "a b"`, "no image given"}},
		{name: "every problem reported", mod: func(s *types.ServiceSpec) {
			s.Name, s.Container.Image, s.Mode, s.Restart.Condition, s.Restart.Delay = "", "", "x", "y", -1
			s.Ports = []types.PortConfig{{Protocol: "icmp"}}
		}, wantErr: []string{"invalid service name", "no image given", `invalid mode "x"`, `invalid restart condition "y"`,
			"invalid restart delay", `invalid protocol "icmp"`, "invalid target port 0", "published port for target 0/icmp is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			if tt.mod != nil {
				tt.mod(&s)
			}
			err := Validate(&s)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate(%+v): %v", s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want an error", s)
			}
			msg := err.Error()
			for _, w := range tt.wantErr {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if lines := strings.Count(msg, "\n") + 1; lines != len(tt.wantErr) {
				t.Errorf("error has %d line(s), want one per problem (%d): %q", lines, len(tt.wantErr), msg)
			}
		})
	}
}

// Validate must not change the spec it checks.
func TestValidateLeavesSpecAlone(t *testing.T) {
	s := good()
	s.Name = ""
	before := good()
	before.Name = ""
	_ = Validate(&s)
	if !reflect.DeepEqual(s, before) {
		t.Errorf("Validate changed the spec:\n got %+v\nwant %+v", s, before)
	}
}
