package labels

import (
	"strings"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

func TestPlugin(t *testing.T) {
	p := New()
	if p.Name() != "labels" || p.Description() == "" {
		t.Fatalf("Name %q, Description %q", p.Name(), p.Description())
	}
}

func TestClaims(t *testing.T) {
	p := New()
	if _, claimed := p.Claims(&types.ServiceSpec{}); claimed {
		t.Error("a spec without constraints is claimed")
	}
	feature, claimed := p.Claims(&types.ServiceSpec{Placement: types.Placement{Constraints: []string{"node.role==worker"}}})
	if !claimed || !strings.Contains(feature, "--constraint") {
		t.Errorf("Claims = %q, %v", feature, claimed)
	}
	role := types.RoleWorker
	if _, claimed := p.ClaimsNodeUpdate(&store.NodeUpdate{NodeID: "n", Role: &role}); claimed {
		t.Error("a role change is claimed")
	}
	feature, claimed = p.ClaimsNodeUpdate(&store.NodeUpdate{NodeID: "n", SetLabels: true})
	if !claimed || !strings.Contains(feature, "--label-add") {
		t.Errorf("ClaimsNodeUpdate = %q, %v", feature, claimed)
	}
}

func TestValidateService(t *testing.T) {
	tests := []struct {
		constraints []string
		wantErr     string
	}{
		{nil, ""},
		{[]string{"node.labels.zone==east", "node.role!=manager"}, ""},
		{[]string{"node.labels.zone==east", "node.zone==east"}, `labels: invalid constraint "node.zone==east": unknown key`},
		{[]string{"node.labels.zone=east"}, "want KEY==VALUE or KEY!=VALUE"},
	}
	for _, tt := range tests {
		err := New().ValidateService(nil, &types.ServiceSpec{Placement: types.Placement{Constraints: tt.constraints}}, nil)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ValidateService(%q) = %v, want %q", tt.constraints, err, tt.wantErr)
		}
	}
}

func TestNodeCheck(t *testing.T) {
	p := New()
	if check, _ := p.NodeCheck(types.Placement{}); check != nil {
		t.Error("no constraints must give no check")
	}
	east := &types.Node{Role: types.RoleWorker, Labels: map[string]string{"zone": "east"}}
	west := &types.Node{Role: types.RoleWorker, Labels: map[string]string{"zone": "west"}}
	check, explain := p.NodeCheck(types.Placement{Constraints: []string{"node.labels.zone==east", "node.role==worker"}})
	if check == nil || explain != "scheduling constraints not satisfied" {
		t.Fatalf("NodeCheck = %v, %q", check != nil, explain)
	}
	if !check(east) || check(west) {
		t.Errorf("east %v, west %v", check(east), check(west))
	}
	// Constraints that do not parse let no node through.
	check, explain = p.NodeCheck(types.Placement{Constraints: []string{"bogus"}})
	if check == nil || check(east) || explain == "" {
		t.Errorf("bad constraints: check %v, explain %q", check != nil, explain)
	}
}
