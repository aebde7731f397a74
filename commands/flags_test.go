package commands

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/types"
)

func TestParsePort(t *testing.T) {
	port := func(pub, target uint16, proto string) types.PortConfig {
		return types.PortConfig{Protocol: proto, TargetPort: target, PublishedPort: pub, PublishMode: "ingress"}
	}
	tests := []struct {
		in      string
		want    types.PortConfig
		wantErr string // a substring of the error; "" when none is expected
	}{
		{in: "9000:8080", want: port(9000, 8080, "tcp")},
		{in: "53:5353/udp", want: port(53, 5353, "udp")},
		{in: "53:53/UDP", want: port(53, 53, "udp")},
		{in: "80:80/Tcp", want: port(80, 80, "tcp")},
		{in: "1:65535", want: port(1, 65535, "tcp")},
		{in: "published=8080,target=80", want: port(8080, 80, "tcp")},
		{in: "published=P,target=T,protocol=udp", wantErr: `"P" is not a port number`},
		{in: "published=9000,target=8080,protocol=udp", want: port(9000, 8080, "udp")},
		{in: "target=8080,published=9000,protocol=UDP,mode=ingress", want: port(9000, 8080, "udp")},
		{in: "published=9000,target=8080,mode=host", want: types.PortConfig{Protocol: "tcp", PublishedPort: 9000, TargetPort: 8080, PublishMode: "host"}},
		{in: "published=9000,target=8080,mode=bridge", wantErr: "mode must be ingress or host"},
		{in: "published=9000,target=8080,protocol=sctp", wantErr: "protocol must be tcp or udp"},
		{in: "published=9000", wantErr: "target= is required"},
		{in: "target=80", want: types.PortConfig{Protocol: "tcp", TargetPort: 80, PublishMode: "ingress"}},
		{in: "published=9000,target=80,colour=red", wantErr: `unknown field "colour"`},
		{in: "published=0,target=80", wantErr: "not a port number"},
		{in: "0:80", wantErr: `"0" is not a port number (1-65535)`},
		{in: "80:0", wantErr: `"0" is not a port number`},
		{in: "65536:80", wantErr: `"65536" is not a port number`},
		{in: "80:70000", wantErr: `"70000" is not a port number`},
		{in: "-1:80", wantErr: "not a port number"},
		{in: "http:80", wantErr: `"http" is not a port number`},
		{in: "80:eighty", wantErr: `"eighty" is not a port number`},
		{in: "80", want: types.PortConfig{Protocol: "tcp", TargetPort: 80, PublishMode: "ingress"}},
		{in: "80/udp", want: types.PortConfig{Protocol: "udp", TargetPort: 80, PublishMode: "ingress"}},
		{in: "", wantErr: "not a port number"},
		{in: ":80", wantErr: `"" is not a port number`},
		{in: "80:", wantErr: `"" is not a port number`},
		{in: ":", wantErr: "not a port number"},
		{in: "80:80/", wantErr: "protocol must be tcp or udp"},
		{in: "80:80/sctp", wantErr: "protocol must be tcp or udp"},
		{in: "1:2:3", wantErr: "not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePort(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParsePort(%q) = %+v, want an error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePort(%q) error %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.in) {
					t.Errorf("ParsePort(%q) error %q does not name the value given", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePort(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParsePort(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseReplicas(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "5", want: 5},
		{in: " 3 ", want: 3},
		{in: "-1", wantErr: "must not be negative"},
		{in: "two", wantErr: "want a whole number"},
		{in: "1.5", wantErr: "want a whole number"},
		{in: "", wantErr: "want a whole number"},
		{in: "100000", want: 100000},
		{in: "100001", wantErr: "the limit is 100000 per service"},
		{in: "9223372036854775807", wantErr: "the limit is 100000 per service"},
		{in: "9223372036854775808", wantErr: "want a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReplicas(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseReplicas(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseReplicas(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseEnv(t *testing.T) {
	environ := map[string]string{"HOME": "/home/me", "EMPTY": "", "EQ": "a=b"}
	lookup := func(k string) (string, bool) { v, ok := environ[k]; return v, ok }
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{name: "none", in: nil, want: nil},
		{name: "pairs", in: []string{"A=1", "B=x=y", "C="}, want: []string{"A=1", "B=x=y", "C="}},
		{name: "bare key from the environment", in: []string{"HOME"}, want: []string{"HOME=/home/me"}},
		{name: "bare key set empty", in: []string{"EMPTY"}, want: []string{"EMPTY="}},
		{name: "value with =", in: []string{"EQ", "X=1"}, want: []string{"EQ=a=b", "X=1"}},
		{name: "pair wins over the environment", in: []string{"HOME=/elsewhere"}, want: []string{"HOME=/elsewhere"}},
		{name: "bare key not set", in: []string{"A=1", "NOPE"}, wantErr: `invalid environment variable "NOPE": want KEY=VALUE, or a KEY set`},
		{name: "no key", in: []string{"A=1", "=1"}, wantErr: `invalid environment variable "=1"`},
		{name: "empty", in: []string{""}, wantErr: "want KEY=VALUE"},
		{name: "NUL", in: []string{"A=x\x00y"}, wantErr: "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnv(tt.in, lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseEnv(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    map[string]string
		wantErr string
	}{
		{name: "none", in: nil, want: nil},
		{name: "pairs", in: []string{"a=1", "b=x=y"}, want: map[string]string{"a": "1", "b": "x=y"}},
		{name: "bare key is empty value", in: []string{"flag"}, want: map[string]string{"flag": ""}},
		{name: "last wins", in: []string{"a=1", "a=2"}, want: map[string]string{"a": "2"}},
		{name: "no key", in: []string{"=v"}, wantErr: `invalid label "=v"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLabels(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLabels(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseLabels(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRestart(t *testing.T) {
	def := types.RestartPolicy{Condition: types.RestartAny, Delay: types.DefaultRestartDelay}
	tests := []struct {
		name             string
		cond, delay, max string
		want             types.RestartPolicy
		wantErrs         []string // substrings, all expected in the error
	}{
		{name: "defaults", want: def},
		{name: "any", cond: "any", want: def},
		{name: "on-failure", cond: "on-failure",
			want: types.RestartPolicy{Condition: types.RestartOnFailure, Delay: types.DefaultRestartDelay}},
		{name: "none", cond: "none",
			want: types.RestartPolicy{Condition: types.RestartNone, Delay: types.DefaultRestartDelay}},
		{name: "bad condition", cond: "always", wantErrs: []string{`invalid --restart-condition "always"`}},
		{name: "condition is case sensitive", cond: "Any", wantErrs: []string{"--restart-condition"}},
		{name: "delay", delay: "1m30s", want: types.RestartPolicy{Condition: types.RestartAny, Delay: 90 * time.Second}},
		{name: "zero delay", delay: "0s", want: types.RestartPolicy{Condition: types.RestartAny}},
		{name: "negative delay", delay: "-5s", wantErrs: []string{`invalid --restart-delay "-5s"`}},
		{name: "bad delay", delay: "soon", wantErrs: []string{`invalid --restart-delay "soon"`}},
		{name: "delay without unit", delay: "5", wantErrs: []string{"--restart-delay"}},
		{name: "max attempts", max: "3", want: types.RestartPolicy{Condition: types.RestartAny, Delay: types.DefaultRestartDelay, MaxAttempts: 3}},
		{name: "max attempts zero", max: "0", want: def},
		{name: "max attempts negative", max: "-1", wantErrs: []string{`invalid --restart-max-attempts "-1"`}},
		{name: "max attempts bad", max: "lots", wantErrs: []string{`invalid --restart-max-attempts "lots"`}},
		{name: "all three bad, all reported", cond: "sometimes", delay: "x", max: "y",
			wantErrs: []string{"--restart-condition", "--restart-delay", "--restart-max-attempts"}},
		{name: "all set", cond: "on-failure", delay: "2s", max: "4",
			want: types.RestartPolicy{Condition: types.RestartOnFailure, Delay: 2 * time.Second, MaxAttempts: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRestart(tt.cond, tt.delay, tt.max)
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("ParseRestart(%q, %q, %q) = %+v, want an error", tt.cond, tt.delay, tt.max, got)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("ParseRestart(%q, %q, %q) error %q, want it to contain %q", tt.cond, tt.delay, tt.max, err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRestart(%q, %q, %q): %v", tt.cond, tt.delay, tt.max, err)
			}
			if got != tt.want {
				t.Errorf("ParseRestart(%q, %q, %q) = %+v, want %+v", tt.cond, tt.delay, tt.max, got, tt.want)
			}
		})
	}
}

func TestUpdateEnv(t *testing.T) {
	tests := []struct {
		name         string
		env, add, rm []string
		want         []string
	}{
		{name: "nothing", env: []string{"A=1"}, want: []string{"A=1"}},
		{name: "nothing on empty", want: nil},
		{name: "add", env: []string{"A=1"}, add: []string{"B=2"}, want: []string{"A=1", "B=2"}},
		{name: "add to empty", add: []string{"B=2"}, want: []string{"B=2"}},
		{name: "replace", env: []string{"A=1", "B=2", "C=3"}, add: []string{"B=20"}, want: []string{"A=1", "C=3", "B=20"}},
		{name: "replace bare key", env: []string{"A", "B=2"}, add: []string{"A=1"}, want: []string{"B=2", "A=1"}},
		{name: "rm", env: []string{"A=1", "B=2"}, rm: []string{"A"}, want: []string{"B=2"}},
		{name: "rm given as pair", env: []string{"A=1", "B=2"}, rm: []string{"A=whatever"}, want: []string{"B=2"}},
		{name: "rm of absent", env: []string{"A=1"}, rm: []string{"Z"}, want: []string{"A=1"}},
		{name: "rm all", env: []string{"A=1"}, rm: []string{"A"}, want: nil},
		{name: "rm is by whole key", env: []string{"AB=1", "A=2"}, rm: []string{"A"}, want: []string{"AB=1"}},
		{name: "rm then add the same key", env: []string{"A=1"}, add: []string{"A=2"}, rm: []string{"A"}, want: []string{"A=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]string(nil), tt.env...)
			got := updateEnv(tt.env, tt.add, tt.rm)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("updateEnv(%q, add %q, rm %q) = %q, want %q", tt.env, tt.add, tt.rm, got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.env) {
				t.Errorf("updateEnv modified its input: %q, was %q", tt.env, in)
			}
		})
	}
}
