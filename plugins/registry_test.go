package plugins

import (
	"strings"
	"testing"

	"sw/cluster/hooks"
)

type named string

func (n named) Name() string        { return string(n) }
func (n named) Description() string { return "test plugin " + string(n) }

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		in      []hooks.Plugin
		wantErr string
	}{
		{name: "none"},
		{name: "one", in: []hooks.Plugin{named("ingress")}},
		{name: "distinct", in: []hooks.Plugin{named("a"), named("b"), named("c")}},
		{name: "duplicate", in: []hooks.Plugin{named("a"), named("b"), named("a")}, wantErr: `"a"`},
		{name: "duplicate adjacent", in: []hooks.Plugin{named("x"), named("x")}, wantErr: `duplicate or empty plugin name "x"`},
		{name: "empty name", in: []hooks.Plugin{named("a"), named("")}, wantErr: `duplicate or empty plugin name ""`},
		{name: "empty name alone", in: []hooks.Plugin{named("")}, wantErr: `""`},
		{name: "names differ in case", in: []hooks.Plugin{named("a"), named("A")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBuiltins(t *testing.T) {
	ps := Builtins()
	var names []string
	for _, p := range ps {
		names = append(names, p.Name())
		if p.Description() == "" {
			t.Errorf("plugin %q has no description", p.Name())
		}
	}
	if want := []string{"ingress", "dns", "labels", "autolock"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("Builtins names, in hook order: %q, want %q", names, want)
	}
	if err := Check(ps); err != nil {
		t.Errorf("Check(Builtins()): %v", err)
	}
	if _, ok := ps[0].(hooks.NodeRunner); !ok {
		t.Error("ingress is not a NodeRunner")
	}
	if _, ok := ps[0].(hooks.ServiceValidator); !ok {
		t.Error("ingress is not a ServiceValidator")
	}
	// Each call builds its own list: changing one does not change the next.
	ps[0] = named("other")
	if Builtins()[0].Name() != "ingress" {
		t.Error("Builtins returns a shared list")
	}
}
