package labels

import (
	"strings"
	"testing"

	"sw/cluster/types"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Constraint
		wantErr string
	}{
		{in: "node.labels.zone==east", want: Constraint{"node.labels.zone", Equal, "east"}},
		{in: "node.labels.zone!=east", want: Constraint{"node.labels.zone", NotEqual, "east"}},
		{in: " node.labels.zone == east ", want: Constraint{"node.labels.zone", Equal, "east"}},
		{in: "node.role==manager", want: Constraint{"node.role", Equal, "manager"}},
		{in: "node.role!=Worker", want: Constraint{"node.role", NotEqual, "Worker"}},
		{in: "NODE.Hostname==web-1", want: Constraint{"node.hostname", Equal, "web-1"}},
		{in: "node.id==abc123", want: Constraint{"node.id", Equal, "abc123"}},
		{in: "node.platform.os==linux", want: Constraint{"node.platform.os", Equal, "linux"}},
		{in: "node.platform.arch!=arm64", want: Constraint{"node.platform.arch", NotEqual, "arm64"}},
		{in: "Node.Labels.Disk==ssd", want: Constraint{"node.labels.Disk", Equal, "ssd"}},
		{in: "node.labels.a.b-c_d==x:y/z", want: Constraint{"node.labels.a.b-c_d", Equal, "x:y/z"}},
		{in: "node.labels.zone=east", wantErr: `labels: invalid constraint "node.labels.zone=east": want KEY==VALUE or KEY!=VALUE`},
		{in: "node.labels.zone", wantErr: "want KEY==VALUE or KEY!=VALUE"},
		{in: "", wantErr: "want KEY==VALUE"},
		{in: "==east", wantErr: `key "" is invalid`},
		{in: "node.labels.zone==", wantErr: `value "" is invalid`},
		{in: "node.labels.zone===east", wantErr: `value "=east" is invalid`},
		{in: "node.labels.zone!==east", wantErr: `value "=east" is invalid`},
		{in: "node.labels.zone==a=b", wantErr: `value "a=b" is invalid`},
		{in: "node.labels.==east", wantErr: "no label name after node.labels."},
		{in: "node.colour==red", wantErr: `unknown key "node.colour"`},
		{in: "engine.labels.x==y", wantErr: `unknown key "engine.labels.x"`},
		{in: "zone==east", wantErr: `unknown key "zone"`},
		{in: "node.role==boss", wantErr: "node.role is manager or worker"},
		{in: "node label==x", wantErr: `key "node label" is invalid`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "labels: ") {
					t.Fatalf("Parse(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	cs, err := ParseAll([]string{"node.role==worker", "node.labels.zone!=west"})
	if err != nil || len(cs) != 2 || cs[1].String() != "node.labels.zone!=west" {
		t.Fatalf("ParseAll = %v, %v", cs, err)
	}
	if _, err := ParseAll([]string{"node.role==worker", "bad"}); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("ParseAll with a bad one: %v", err)
	}
	if cs, err := ParseAll(nil); err != nil || len(cs) != 0 {
		t.Fatalf("ParseAll(nil) = %v, %v", cs, err)
	}
}

func TestMatch(t *testing.T) {
	worker := &types.Node{ID: "n1worker", Hostname: "box-1", Role: types.RoleWorker, OS: "linux", Arch: "amd64",
		Labels: map[string]string{"zone": "east", "Disk": "SSD", "empty": ""}}
	manager := &types.Node{ID: "n2manager", Hostname: "box-2", Role: types.RoleManager, OS: "linux", Arch: "arm64"}
	tests := []struct {
		constraint      string
		worker, manager bool
	}{
		{"node.labels.zone==east", true, false},
		{"node.labels.zone!=east", false, true}, // a missing label is unequal
		{"node.labels.zone==EAST", true, false}, // values compare case-insensitively
		{"node.labels.Disk==ssd", true, false},
		{"node.labels.disk==ssd", false, false}, // label names are case-sensitive
		{"node.labels.nosuch!=x", true, true},
		{"node.role==manager", false, true},
		{"node.role!=manager", true, false},
		{"node.role==WORKER", true, false},
		{"node.hostname==box-1", true, false},
		{"node.hostname!=box-1", false, true},
		{"node.id==n2manager", false, true},
		{"node.id==n2", false, false}, // the full ID, no prefix
		{"node.platform.os==linux", true, true},
		{"node.platform.arch==arm64", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.constraint, func(t *testing.T) {
			c, err := Parse(tt.constraint)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Match(worker); got != tt.worker {
				t.Errorf("worker: Match = %v, want %v", got, tt.worker)
			}
			if got := c.Match(manager); got != tt.manager {
				t.Errorf("manager: Match = %v, want %v", got, tt.manager)
			}
		})
	}
}

func TestMatchAll(t *testing.T) {
	n := &types.Node{Role: types.RoleWorker, Labels: map[string]string{"zone": "east", "disk": "ssd"}}
	cs, err := ParseAll([]string{"node.labels.zone==east", "node.labels.disk==ssd", "node.role==worker"})
	if err != nil {
		t.Fatal(err)
	}
	if !MatchAll(cs, n) {
		t.Error("all three hold, MatchAll = false")
	}
	n.Labels["disk"] = "hdd"
	if MatchAll(cs, n) {
		t.Error("disk differs, MatchAll = true")
	}
	if !MatchAll(nil, n) {
		t.Error("no constraints must match every node")
	}
}
