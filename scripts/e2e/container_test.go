package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestContainerOptions: Docker's container options on create and update
// reach the task's container (docker inspect), show in service inspect
// under Docker's paths, and bad values are refused naming the flag.
func TestContainerOptions(t *testing.T) {
	t.Parallel()
	n := newNode(t, "copts")
	n.initSwarm()
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# settings\nFROM_FILE=1\nB=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.ok("service", "create", "-q", "--name", "opts", "--hostname", "myhost", "-w", "/tmp", "-u", "1000:1000",
		"--group", "20", "--init", "--stop-signal", "SIGINT", "--stop-grace-period", "3s", "-t", "--read-only",
		"--cap-add", "net_admin", "--cap-drop", "MKNOD", "--sysctl", "net.core.somaxconn=1024",
		"--ulimit", "nofile=1024:2048", "--dns-search", "example.com", "--dns-option", "ndots:2",
		"--container-label", "team=a", "--env-file", envFile, "-e", "B=flag", "--entrypoint", "/demoapp sleep", demoImage)
	inspect := func(format string) string {
		for name, id := range n.containers(false) {
			if strings.HasPrefix(name, "opts.1.") {
				return strings.TrimSpace(dockerOut(t, "inspect", "--format", format, id))
			}
		}
		t.Fatalf("no opts container: %v", n.containers(false))
		return ""
	}
	want := "myhost /tmp 1000:1000 [20] true SIGINT 3 true true [CAP_NET_ADMIN] [CAP_MKNOD] map[net.core.somaxconn:1024] " +
		"nofile=1024:2048 [example.com] [ndots:2] a [/demoapp sleep]"
	if got := inspect(`{{.Config.Hostname}} {{.Config.WorkingDir}} {{.Config.User}} {{.HostConfig.GroupAdd}} {{.HostConfig.Init}} ` +
		`{{.Config.StopSignal}} {{.Config.StopTimeout}} {{.Config.Tty}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapAdd}} ` +
		`{{.HostConfig.CapDrop}} {{.HostConfig.Sysctls}} {{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}} ` +
		`{{.HostConfig.DnsSearch}} {{.HostConfig.DnsOptions}} {{index .Config.Labels "team"}} {{.Config.Entrypoint}}`); got != want {
		t.Errorf("container:\n got  %s\n want %s", got, want)
	}
	if env := inspect("{{json .Config.Env}}"); !strings.Contains(env, `"FROM_FILE=1"`) || strings.Index(env, `"B=file"`) > strings.Index(env, `"B=flag"`) {
		t.Errorf("env %s: want the file's, then --env's (which wins)", env)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format",
		"{{.Spec.TaskTemplate.ContainerSpec.User}} {{.Spec.TaskTemplate.ContainerSpec.StopGracePeriod}} {{json .Spec.TaskTemplate.ContainerSpec.Ulimits}} {{json .Spec.TaskTemplate.ContainerSpec.DNSConfig}}", "opts")); got !=
		`1000:1000 3000000000 [{"Hard":2048,"Name":"nofile","Soft":1024}] {"Options":["ndots:2"],"Search":["example.com"]}` {
		t.Errorf("service inspect: %s", got)
	}

	if pretty := n.ok("service", "inspect", "--pretty", "opts"); !strings.Contains(pretty, " User:\t1000:1000\n") ||
		!strings.Contains(pretty, " Init:\ttrue\n") || !strings.Contains(pretty, "  nofile: 1024:2048\n") ||
		!strings.Contains(pretty, "  Add: CAP_NET_ADMIN\n") {
		t.Errorf("inspect --pretty:\n%s", pretty)
	}

	// Update: lists edited, options cleared, the image's entrypoint back,
	// a port published and unpublished.
	port := freePort(t, n.ip)
	n.ok("service", "update", "-q", "--group-add", "30", "--group-rm", "20", "--sysctl-rm", "net.core.somaxconn",
		"--ulimit-add", "nproc=100", "--container-label-add", "tier=web", "--label-add", "svc=yes", "--entrypoint", "",
		"--user", "", "--read-only=false", "--publish-add", fmt.Sprintf("%d:8080", port), "opts")
	if got := inspect(`{{.Config.User}}|{{.HostConfig.GroupAdd}}|{{.HostConfig.ReadonlyRootfs}}|{{len .HostConfig.Sysctls}}|` +
		`{{range .HostConfig.Ulimits}}{{.Name}} {{end}}|{{index .Config.Labels "tier"}}`); got != "|[30]|false|0|nofile nproc |web" {
		t.Errorf("after the update: %s", got)
	}
	url := fmt.Sprintf("http://%s:%d/", n.ip, port)
	if body, err := httpGet(url); err != nil || !strings.HasPrefix(body, "hello from opts.1.") {
		t.Errorf("the added port: %q %v", body, err)
	}
	n.ok("service", "update", "-q", "--publish-rm", "8080", "opts")
	if _, err := httpGet(url); err == nil {
		t.Errorf("the removed port %d still answers", port)
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec.Labels}}", "opts")); got != `{"svc":"yes"}` {
		t.Errorf("service labels %s", got)
	}

	version := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.Version}}", "opts"))
	for _, c := range []struct{ args, want string }{
		{"--ulimit-add nofile=abc", `invalid --ulimit-add "nofile=abc"`},
		{"--stop-grace-period -3s", `invalid --stop-grace-period "-3s": must not be negative`},
		{"--publish-rm 9999", `invalid --publish-rm "9999": the service publishes no port with target 9999/tcp`},
		{"--sysctl-add novalue", `invalid --sysctl-add "novalue": want KEY=VALUE`},
		{"--dns-add not-an-ip", `invalid --dns-add "not-an-ip": want an IP address`},
		{"--workdir relative", `invalid --workdir "relative": want an absolute path`},
	} {
		res := n.sw(append(append([]string{"service", "update"}, strings.Fields(c.args)...), "opts")...)
		if res.code == 0 || !strings.Contains(res.stderr, c.want) {
			t.Errorf("update %s: exit %d, stderr %q, want %q", c.args, res.code, res.stderr, c.want)
		}
	}
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.Version}}", "opts")); got != version {
		t.Errorf("refused updates changed the service: version %s, was %s", got, version)
	}
}
