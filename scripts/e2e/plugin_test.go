package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPluginSwitch: ingress is on by default; disabling it closes the
// published ports and refuses new ones by name, enabling reopens them; a
// swarm can start with it off.
func TestPluginSwitch(t *testing.T) {
	t.Parallel()
	n := newNode(t, "plugins")
	n.initSwarm()
	if got := n.ok("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}"); !slices.Contains(lines(got), "ingress true") {
		t.Fatalf("plugin ls: %q", got)
	}
	port := freePort(t, n.ip)
	url := fmt.Sprintf("http://%s:%d/", n.ip, port)
	n.ok("service", "create", "--name", "web", "-p", fmt.Sprintf("%d:8080", port), demoImage)
	if _, err := httpGet(url); err != nil {
		t.Fatalf("published port before disable: %v", err)
	}
	n.ok("plugin", "disable", "ingress")
	waitFor(t, 5*time.Second, "listener closed", func() bool { _, err := httpGet(url); return err != nil })
	r := n.sw("service", "create", "--name", "web2", "-p", fmt.Sprintf("%d:8080", freePort(t, n.ip)), demoImage)
	if r.code == 0 || !strings.Contains(r.stderr, "plugin ingress is disabled") {
		t.Fatalf("create with a port while ingress is off: %+v", r)
	}
	if got := n.ok("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}"); !slices.Contains(lines(got), "ingress false") {
		t.Fatalf("plugin ls after disable: %q", got)
	}
	n.ok("plugin", "enable", "ingress")
	waitFor(t, 5*time.Second, "listener reopened", func() bool { _, err := httpGet(url); return err == nil })
	if r := n.sw("plugin", "enable", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, "no such plugin") {
		t.Fatalf("enable of an unknown plugin: %+v", r)
	}

	off := newNode(t, "plugins-off")
	off.ok("swarm", "init", "--listen-addr", off.ip+":2377", "--no-plugin", "ingress")
	off.id = strings.TrimSpace(off.ok("info", "--format", "{{.NodeID}}"))
	if got := off.ok("plugin", "ls", "--format", "{{.Name}}={{.Enabled}}"); !slices.Contains(lines(got), "ingress=false") {
		t.Fatalf("init --no-plugin ingress: %q", got)
	}
}

// TestMeshOnEveryNode: a published port answers on a worker that runs
// none of the service's tasks (the routing mesh on every node).
func TestMeshOnEveryNode(t *testing.T) {
	t.Parallel()
	m, w := newNode(t, "mesh-m"), newNode(t, "mesh-w")
	m.initSwarm()
	joinAs(t, m, w, "worker")
	m.ok("node", "update", "--availability", "drain", "mesh-w")
	port := freePort(t, w.ip)
	m.ok("service", "create", "--name", "web", "--replicas", "2", "-p", fmt.Sprintf("%d:8080", port), demoImage)
	if got := tasksOn(t, m, "web"); got["mesh-m"] != 2 {
		t.Fatalf("tasks should all be on the manager: %v", got)
	}
	seen := map[string]bool{}
	waitFor(t, 10*time.Second, "both tasks answer through the worker's published port", func() bool {
		body, err := httpGet(fmt.Sprintf("http://%s:%d/", w.ip, port))
		if err == nil {
			seen[body] = true
		}
		return len(seen) == 2
	})
	m.ok("plugin", "disable", "ingress")
	waitFor(t, 10*time.Second, "the worker's listener closed with the plugin off", func() bool {
		_, err := httpGet(fmt.Sprintf("http://%s:%d/", w.ip, port))
		return err != nil
	})
}

// TestAutoPublishedPort: `-p TARGET` gets a published port from
// 30000-32767 that answers, and keeps it across an update.
func TestAutoPublishedPort(t *testing.T) {
	t.Parallel()
	n := newNode(t, "autoport")
	n.initSwarm()
	n.ok("service", "create", "--name", "web", "-p", "8080", demoImage)
	ports := strings.TrimSpace(n.ok("service", "ls", "--format", "{{.Ports}}"))
	var pub int
	if _, err := fmt.Sscanf(ports, "*:%d->8080/tcp", &pub); err != nil || pub < 30000 || pub > 32767 {
		t.Fatalf("auto-published port %q", ports)
	}
	if body, err := httpGet(fmt.Sprintf("http://%s:%d/", n.ip, pub)); err != nil || !strings.HasPrefix(body, "hello from web.1.") {
		t.Fatalf("GET on the picked port: %q %v", body, err)
	}
	n.ok("service", "update", "--env-add", "X=1", "web")
	if again := strings.TrimSpace(n.ok("service", "ls", "--format", "{{.Ports}}")); again != ports {
		t.Fatalf("published port changed on update: %q -> %q", ports, again)
	}
}

// TestHostModePort: a mode=host port listens only on the node that runs
// the task.
func TestHostModePort(t *testing.T) {
	t.Parallel()
	m, w := newNode(t, "hostmode-m"), newNode(t, "hostmode-w")
	m.initSwarm()
	joinAs(t, m, w, "worker")
	port := freePort(t, m.ip)
	m.ok("service", "create", "--name", "web", "--publish", fmt.Sprintf("mode=host,published=%d,target=8080", port), demoImage)
	onNode := strings.TrimSpace(m.ok("service", "ps", "-f", "desired-state=running", "--format", "{{.Node}}", "web"))
	with, without := m, w
	if onNode == "hostmode-w" {
		with, without = w, m
	}
	waitFor(t, 10*time.Second, "the task's node answers", func() bool {
		_, err := httpGet(fmt.Sprintf("http://%s:%d/", with.ip, port))
		return err == nil
	})
	if _, err := httpGet(fmt.Sprintf("http://%s:%d/", without.ip, port)); err == nil {
		t.Fatalf("node %s answers on a host-mode port without running the task", without.name)
	}
}
