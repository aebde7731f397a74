package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSwarmLifecycle: a fresh daemon is inactive; init makes it a manager
// with Docker-shaped IDs; leave needs --force and removes the containers.
func TestSwarmLifecycle(t *testing.T) {
	t.Parallel()
	n := newNode(t, "swarm")
	if out := n.ok("info"); !strings.Contains(out, "Swarm: inactive") {
		t.Fatalf("fresh info:\n%s", out)
	}
	if r := n.sw("node", "ls"); r.code == 0 || !strings.Contains(r.stderr, "not a swarm manager") || r.stdout != "" {
		t.Fatalf("node ls outside a swarm: %+v", r)
	}
	n.initSwarm()
	info := n.ok("info")
	for _, want := range []string{"Swarm: active", "NodeID: " + n.id, "Is Manager: true", "Managers: 1", "Nodes: 1"} {
		if !strings.Contains(info, want) {
			t.Fatalf("info lacks %q:\n%s", want, info)
		}
	}
	if r := n.sw("swarm", "init"); r.code == 0 || !strings.Contains(r.stderr, "already part of a swarm") {
		t.Fatalf("second init: %+v", r)
	}
	ls := lines(n.ok("node", "ls"))
	if len(ls) != 2 || !strings.HasPrefix(ls[0], "ID ") || !strings.Contains(ls[0], "MANAGER STATUS") ||
		!strings.HasPrefix(ls[1], n.id+" *") || !strings.Contains(ls[1], "Ready") || !strings.Contains(ls[1], "Leader") {
		t.Fatalf("node ls:\n%s", strings.Join(ls, "\n"))
	}
	if got := strings.TrimSpace(n.ok("node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}")); got != "swarm Leader" {
		t.Fatalf("node ls template: %q", got)
	}
	pretty := n.ok("node", "inspect", "--pretty", "self")
	if !strings.Contains(pretty, "Hostname:\t\tswarm") {
		t.Fatalf("node inspect --pretty:\n%s", pretty)
	}
	n.ok("service", "create", "--name", "web", "--replicas", "2", demoImage)
	if r := n.sw("swarm", "leave"); r.code == 0 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("leave without force: %+v", r)
	}
	n.ok("swarm", "leave", "--force")
	if len(n.containers(true)) != 0 {
		t.Fatalf("containers left after leave: %v", n.containers(true))
	}
	if out := n.ok("info"); !strings.Contains(out, "Swarm: inactive") {
		t.Fatalf("info after leave:\n%s", out)
	}
}

// TestScriptingOutput: -q, --format json, templates and filters.
func TestScriptingOutput(t *testing.T) {
	t.Parallel()
	n := newNode(t, "script")
	n.initSwarm()
	idA := strings.TrimSpace(lines(n.ok("service", "create", "-d", "--name", "alpha", demoImage))[0])
	n.ok("service", "create", "-d", "--name", "beta", "--mode", "global", demoImage)
	q := lines(n.ok("service", "ls", "-q"))
	if len(q) != 2 || q[0] != idA[:12] {
		t.Fatalf("service ls -q: %v (alpha is %s)", q, idA)
	}
	if got := lines(n.ok("service", "ls", "-f", "name=bet", "--format", "{{.Name}} {{.Mode}}")); len(got) != 1 || got[0] != "beta global" {
		t.Fatalf("filtered template: %v", got)
	}
	var row map[string]string
	js := lines(n.ok("service", "ls", "--format", "json", "--filter", "name=alpha"))
	if len(js) != 1 || json.Unmarshal([]byte(js[0]), &row) != nil || row["Name"] != "alpha" || row["Mode"] != "replicated" {
		t.Fatalf("service ls --format json: %v", js)
	}
	var inspected []map[string]any
	if err := json.Unmarshal([]byte(n.ok("service", "inspect", "alpha")), &inspected); err != nil || inspected[0]["ID"] != idA {
		t.Fatalf("service inspect: %v %v", err, inspected)
	}
	tbl := lines(n.ok("service", "ls", "--format", "table {{.Name}}\t{{.Replicas}}"))
	if len(tbl) != 3 || !strings.HasPrefix(tbl[0], "NAME") {
		t.Fatalf("table template: %v", tbl)
	}
	if got := lines(n.ok("node", "ps", "-q")); len(got) != 2 {
		t.Fatalf("node ps -q: %v", got)
	}
}

// TestBadInput: each mistake gets an error on stderr, nothing on stdout,
// a non-zero exit, and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	n := newNode(t, "bad")
	n.initSwarm()
	n.ok("service", "create", "--name", "web", "-p", "18080:8080", demoImage)
	before := n.ok("service", "ls", "--format", "{{.Name}} {{.Replicas}} {{.Ports}}")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"service", "ps", "nosuch"}, "no such service: nosuch"},
		{[]string{"service", "inspect", "nosuch"}, "no such service"},
		{[]string{"node", "inspect", "nosuch"}, "no such node"},
		{[]string{"service", "rm", "nosuch"}, "no such service"},
		{[]string{"service", "logs", "nosuch"}, "no such service or task"},
		{[]string{"service", "create", "--name", "web", demoImage}, `service "web" already exists`},
		{[]string{"service", "create", "--name", "x", "-p", "18080:80", demoImage}, "already in use by service \"web\""},
		{[]string{"service", "create", "--name", "x", "-p", "70000:80", demoImage}, "not a port number"},
		{[]string{"service", "create", "--name", "x", "-p", "80:", demoImage}, "not a port number"},
		{[]string{"service", "create", "--name", "x", "-p", "1:2/sctp", demoImage}, "tcp or udp"},
		{[]string{"service", "create", "--name", "x", "--replicas", "-1", demoImage}, "must not be negative"},
		{[]string{"service", "create", "--name", "x", "--replicas", "many", demoImage}, "whole number"},
		{[]string{"service", "create", "--name", "x", "--mode", "global", "--replicas", "2", demoImage}, "--replicas can only be used with replicated or replicated-job mode"},
		{[]string{"service", "create", "--name", "x"}, "requires at least 1 argument"},
		{[]string{"service", "create", "--name", "bad name", demoImage}, "invalid service name"},
		{[]string{"service", "create", "--name", "x", "--restart-condition", "sometimes", demoImage}, "restart-condition"},
		{[]string{"service", "scale", "web=-3"}, "must not be negative"},
		{[]string{"service", "scale", "web"}, "SERVICE=REPLICAS"},
		{[]string{"service", "update", "--replicas", "x", "web"}, "whole number"},
		{[]string{"service", "ls", "-f", "colour=red"}, "invalid filter"},
		{[]string{"service", "ls", "--format", "{{.Nope}}"}, "Nope"},
		{[]string{"service", "create", "--name", "x", "--replicas", "9223372036854775807", demoImage}, "the limit is 100000 per service"},
		{[]string{"service", "create", "--name", "x", "--replicas", "100001", demoImage}, "the limit is 100000 per service"},
		{[]string{"service", "scale", "web=200000"}, "the limit is 100000 per service"},
		{[]string{"service", "update", "--replicas", "200000", "web"}, "the limit is 100000 per service"},
		{[]string{"service", "create", "--name", "x", "echo id:bars"}, `invalid image "echo id:bars": invalid reference format`},
		{[]string{"service", "create", "--name", "x", "../../etc/passwd@@"}, `invalid image "../../etc/passwd@@"`},
		{[]string{"service", "create", "--name", "x", "Busybox"}, "must be lowercase"},
		{[]string{"service", "update", "--image", "a b", "web"}, `invalid image "a b"`},
		{[]string{"service", "create", "--name", "x", "-e", "SW_E2E_NEVER_SET", demoImage}, `invalid environment variable "SW_E2E_NEVER_SET"`},
		{[]string{"service", "update", "--env-add", "=x", "web"}, `invalid environment variable "=x"`},
		{[]string{"service", "create", "--name", "x", "--restart-delay", "25h", demoImage}, "invalid restart delay 25h0m0s: the limit is 24h0m0s"},
		{[]string{"service", "create", "--name", "x", "--health-interval", "25h", demoImage}, "the limit is 24h0m0s"},
	}
	for _, c := range cases {
		r := n.sw(c.args...)
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, c.want) || !strings.HasPrefix(r.stderr, "Error: ") {
			t.Errorf("sw %s: exit %d, stdout %q, stderr %q; want an error mentioning %q",
				strings.Join(c.args, " "), r.code, r.stdout, r.stderr, c.want)
		}
	}
	badAPIInput(t, n)
	if after := n.ok("service", "ls", "--format", "{{.Name}} {{.Replicas}} {{.Ports}}"); after != before {
		t.Fatalf("bad input changed the services:\nbefore %s\nafter  %s", before, after)
	}
	// A bare -e KEY takes KEY's value from the CLI's environment.
	if r := n.swEnv([]string{"SW_E2E_FROM_ENV=from the shell"}, "service", "create", "-d", "--name", "envd", "-e", "SW_E2E_FROM_ENV", demoImage); r.code != 0 {
		t.Fatalf("create with a bare -e KEY that is set: %+v", r)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", "envd")); got != `["SW_E2E_FROM_ENV=from the shell"]` {
		t.Errorf("env of a bare -e KEY: %s", got)
	}
}

// TestUnreachable: no daemon and no engine each get a clear message.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "none.sock")
	out, err := exec.Command(swBin, "-H", "unix://"+sock, "service", "ls").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot connect to the sw daemon") || !strings.Contains(string(out), "sw daemon") {
		t.Fatalf("no daemon: %v %s", err, out)
	}
	cmd := exec.Command(swBin, "-H", "unix://"+sock, "daemon", "--data-dir", t.TempDir())
	cmd.Env = append(cmd.Environ(), "DOCKER_HOST=unix:///nonexistent/docker.sock")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot reach the Docker engine") {
		t.Fatalf("no engine: %v %s", err, out)
	}
}
