package commands

import (
	"reflect"
	"strings"
	"testing"
)

func TestInterspersed(t *testing.T) {
	tests := []struct {
		name string
		in   string // split on spaces; no argument here holds a space
		want string
	}{
		{name: "bool flag after positional",
			in: "sw service ps web -q", want: "sw service ps -q web"},
		{name: "value flag carries its value",
			in: "sw service ps web -f desired-state=running", want: "sw service ps -f desired-state=running web"},
		{name: "long value flag carries its value",
			in: "sw service ps web --format {{.ID}}", want: "sw service ps --format {{.ID}} web"},
		{name: "flag=value is one argument",
			in: "sw service ps web -f=x", want: "sw service ps -f=x web"},
		{name: "long flag=value is one argument",
			in: "sw service ls --filter=name=web -q", want: "sw service ls --filter=name=web -q"},
		{name: "several services and flags",
			in: "sw service ps web -q api --no-trunc db", want: "sw service ps -q --no-trunc web api db"},
		{name: "already in order",
			in: "sw service ps -q web", want: "sw service ps -q web"},
		{name: "alias of a command",
			in: "sw service list -q", want: "sw service list -q"},
		{name: "alias of a subcommand with positional",
			in: "sw service remove web -x", want: "sw service remove -x web"},
		{name: "global flag before the command",
			in: "sw -H unix:///x service ls -q", want: "sw -H unix:///x service ls -q"},
		{name: "global long flag before the command, positional after",
			in: "sw --host unix:///x service ps web -q", want: "sw --host unix:///x service ps -q web"},
		{name: "global bool flag takes no value",
			in: "sw --no-color service ps web -q", want: "sw --no-color service ps -q web"},
		{name: "inspect -f takes a value",
			in: "sw service inspect web -f {{.Spec.Name}}", want: "sw service inspect -f {{.Spec.Name}} web"},
		{name: "logs -f is a bool",
			in: "sw service logs web -f", want: "sw service logs -f web"},
		{name: "logs --tail takes a value",
			in: "sw service logs web --tail 5 -f", want: "sw service logs --tail 5 -f web"},
		{name: "value flag at the very end",
			in: "sw service ps web --format", want: "sw service ps --format web"},
		{name: "node ps",
			in: "sw node ps self -q", want: "sw node ps -q self"},
		{name: "scale",
			in: "sw service scale web=3 -d", want: "sw service scale -d web=3"},
		{name: "update",
			in: "sw service update web --image nginx:2 -d", want: "sw service update --image nginx:2 -d web"},
		{name: "create is left alone after the image",
			in: "sw service create --name x img -p 80 arg", want: "sw service create --name x img -p 80 arg"},
		{name: "create with flags after the image",
			in: "sw service create img sh -c -x", want: "sw service create img sh -c -x"},
		{name: "network create is reordered: a name takes no command after it",
			in: "sw network create mynet --subnet 10.9.0.0/24 --attachable", want: "sw network create --subnet 10.9.0.0/24 --attachable mynet"},
		{name: "network rm",
			in: "sw network rm a b", want: "sw network rm a b"},
		{name: "double dash stops reordering",
			in: "sw service ps web -- -q", want: "sw service ps web -- -q"},
		{name: "flags before double dash still move",
			in: "sw service ps web -q -- --no-trunc x", want: "sw service ps -q web -- --no-trunc x"},
		{name: "lone dash is positional",
			in: "sw service ps - -q", want: "sw service ps -q -"},
		{name: "unknown command left alone",
			in: "sw frobnicate web -q", want: "sw frobnicate web -q"},
		{name: "just the program",
			in: "sw", want: "sw"},
		{name: "command only",
			in: "sw service", want: "sw service"},
		{name: "help flag",
			in: "sw service ps --help", want: "sw service ps --help"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := App(nil)
			in := strings.Fields(tt.in)
			orig := append([]string(nil), in...)
			got := interspersed(app, in)
			if want := strings.Fields(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("interspersed(%q)\n got %q\nwant %q", tt.in, got, want)
			}
			if !reflect.DeepEqual(in, orig) {
				t.Errorf("interspersed modified its input: %q, was %q", in, orig)
			}
		})
	}
}

func TestInterspersedEmpty(t *testing.T) {
	if got := interspersed(App(nil), nil); len(got) != 0 {
		t.Errorf("interspersed(nil) = %q, want nothing", got)
	}
}

// A value with spaces (as a shell passes a quoted template) stays one
// argument, carried with its flag.
func TestInterspersedQuotedValue(t *testing.T) {
	in := []string{"sw", "service", "ps", "web", "--format", "table {{.ID}}\t{{.Name}}", "-q"}
	want := []string{"sw", "service", "ps", "--format", "table {{.ID}}\t{{.Name}}", "-q", "web"}
	if got := interspersed(App(nil), in); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
