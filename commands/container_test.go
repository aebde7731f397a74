package commands

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"sw/cluster/types"
)

func containerSpec(t *testing.T, update bool, spec types.ServiceSpec, args ...string) (types.ServiceSpec, error) {
	t.Helper()
	var perr error
	app := &cli.App{Name: "sw", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{{
		Name: "x", Flags: containerFlags(update),
		Action: func(c *cli.Context) error { perr = applyContainerFlags(c, &spec, update); return nil },
	}}}
	if err := app.RunContext(context.Background(), append([]string{"sw", "x"}, args...)); err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	return spec, perr
}

func TestContainerFlagsCreate(t *testing.T) {
	env := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(env, []byte("# c\n\nA=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := containerSpec(t, false, types.ServiceSpec{Container: types.ContainerSpec{Env: []string{"B=2"}}},
		"--hostname", "h", "-w", "/w", "-u", "u:g", "--group", "10", "--group", "11", "--init", "--stop-signal", "SIGINT",
		"--stop-grace-period", "1m", "-t", "--read-only", "--entrypoint", `/bin/sh -c "echo hi"`,
		"--cap-add", "net_admin", "--cap-add", "ALL", "--cap-drop", "CAP_MKNOD", "--sysctl", "a.b=1", "--ulimit", "nofile=10:20",
		"--dns", "1.1.1.1", "--dns-search", "x.org", "--dns-option", "ndots:1", "--container-label", "k=v", "--container-label", "bare",
		"--env-file", env)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	want := types.ContainerSpec{Hostname: "h", Dir: "/w", User: "u:g", Groups: []string{"10", "11"}, Init: &yes, StopSignal: "SIGINT",
		StopGracePeriod: 60e9, TTY: true, ReadOnly: true, Command: []string{"/bin/sh", "-c", "echo hi"},
		CapabilityAdd: []string{"CAP_NET_ADMIN", "ALL"}, CapabilityDrop: []string{"CAP_MKNOD"}, Sysctls: map[string]string{"a.b": "1"},
		Ulimits:   []types.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}},
		DNSConfig: &types.DNSConfig{Nameservers: []string{"1.1.1.1"}, Search: []string{"x.org"}, Options: []string{"ndots:1"}},
		Labels:    map[string]string{"k": "v", "bare": ""}, Env: []string{"A=1", "B=2"}}
	if !reflect.DeepEqual(got.Container, want) {
		t.Errorf("got  %+v\nwant %+v", got.Container, want)
	}
}

func TestContainerFlagsUpdate(t *testing.T) {
	base := types.ServiceSpec{Labels: map[string]string{"old": "1"},
		Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"}},
		Container: types.ContainerSpec{Groups: []string{"10"}, CapabilityDrop: []string{"CAP_NET_RAW"},
			Sysctls: map[string]string{"a": "1", "b": "2"}, Ulimits: []types.Ulimit{{Name: "nofile", Soft: 1, Hard: 2}},
			DNSConfig: &types.DNSConfig{Nameservers: []string{"1.1.1.1"}}, Args: []string{"old"}}}
	got, err := containerSpec(t, true, base, "--group-add", "11", "--group-rm", "10", "--cap-add", "NET_RAW",
		"--sysctl-rm", "a", "--sysctl-add", "c=3", "--ulimit-add", "nofile=5:6", "--dns-rm", "1.1.1.1",
		"--args", "x 'y z'", "--label-add", "new=2", "--label-rm", "old", "--publish-rm", "80", "--publish-add", "9090:90/udp")
	if err != nil {
		t.Fatal(err)
	}
	c := got.Container
	switch {
	case !reflect.DeepEqual(c.Groups, []string{"11"}):
		t.Errorf("groups %v", c.Groups)
	case !reflect.DeepEqual(c.CapabilityAdd, []string{"CAP_NET_RAW"}) || len(c.CapabilityDrop) != 0:
		t.Errorf("capabilities +%v -%v: an added capability is no longer dropped", c.CapabilityAdd, c.CapabilityDrop)
	case !reflect.DeepEqual(c.Sysctls, map[string]string{"b": "2", "c": "3"}):
		t.Errorf("sysctls %v", c.Sysctls)
	case !reflect.DeepEqual(c.Ulimits, []types.Ulimit{{Name: "nofile", Soft: 5, Hard: 6}}):
		t.Errorf("ulimits %v", c.Ulimits)
	case c.DNSConfig != nil:
		t.Errorf("DNS config %+v, want none left", c.DNSConfig)
	case !reflect.DeepEqual(c.Args, []string{"x", "y z"}):
		t.Errorf("args %q", c.Args)
	case !reflect.DeepEqual(got.Labels, map[string]string{"new": "2"}):
		t.Errorf("labels %v", got.Labels)
	case len(got.Ports) != 1 || got.Ports[0].PublishedPort != 9090 || got.Ports[0].Protocol != "udp":
		t.Errorf("ports %v", got.Ports)
	}
	if base.Container.Groups[0] != "10" || base.Container.Sysctls["a"] != "1" {
		t.Errorf("the update changed the spec it started from: %+v", base.Container)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--ulimit-add", "nofile=abc"}, `invalid --ulimit-add "nofile=abc"`},
		{[]string{"--ulimit-add", "bogus=1"}, `invalid --ulimit-add "bogus=1"`},
		{[]string{"--stop-grace-period", "-3s"}, `invalid --stop-grace-period "-3s": must not be negative`},
		{[]string{"--publish-rm", "81"}, `invalid --publish-rm "81": the service publishes no port with target 81/tcp`},
		{[]string{"--publish-rm", "80/udp"}, "no port with target 80/udp"},
		{[]string{"--cap-add", "NET ADMIN"}, `invalid --cap-add "NET ADMIN"`},
		{[]string{"--entrypoint", `"unclosed`}, `invalid --entrypoint`},
		{[]string{"--dns-add", "host.example"}, `invalid --dns-add "host.example": want an IP address`},
		{[]string{"--workdir", "tmp", "--sysctl-add", "x"}, "invalid --workdir \"tmp\": want an absolute path\ninvalid --sysctl-add \"x\": want KEY=VALUE"},
	} {
		got, err := containerSpec(t, true, base, bad.args...)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want %q", bad.args, err, bad.want)
		} else if !reflect.DeepEqual(got, base) {
			t.Errorf("%v: a refused update changed the spec", bad.args)
		}
	}
}

func TestPrettyContainerOptions(t *testing.T) {
	var b strings.Builder
	yes := true
	prettyContainerOptions(&b, &types.ContainerSpec{User: "u", Dir: "/w", Init: &yes, StopGracePeriod: 3e9,
		CapabilityDrop: []string{"CAP_MKNOD"}, Sysctls: map[string]string{"b": "2", "a": "1"},
		Ulimits: []types.Ulimit{{Name: "nofile", Soft: 1, Hard: 2}}, DNSConfig: &types.DNSConfig{Search: []string{"x.org"}}})
	want := " Init:\ttrue\n User:\tu\n Dir:\t/w\n StopGracePeriod:\t3s\n Capabilities:\n  Drop: CAP_MKNOD\n" +
		" Sysctls:\n  a: 1\n  b: 2\n Ulimits:\n  nofile: 1:2\n DNS:\n  Search: x.org\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}
