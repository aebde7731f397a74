package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"sw/cluster/backup"
)

// Damaged state and backups: a manager whose Raft data is damaged or gone
// refuses to start, saying how to recover; `sw swarm backup` and `sw
// swarm restore` bring a swarm back after its manager's disk is lost.

func (n *node) dataDir() string { return filepath.Join(n.dir, "data") }

// startFailing starts the daemon expecting it to exit on its own within
// timeout; it returns the exit code and everything the daemon printed.
func (n *node) startFailing(timeout time.Duration) (int, string, time.Duration) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, swBin, "-H", "unix://"+n.sock, "daemon", "--data-dir", n.dataDir(),
		"--hostname", n.name, "--ingress-addr", n.ip)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		n.t.Fatalf("%s: the daemon was still running after %s; it printed:\n%s", n.name, timeout, out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatal(err)
	}
	_ = os.Remove(n.sock)
	return code, out.String(), took
}

// copyTree copies a directory (a data dir, while its daemon is stopped).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	_ = os.RemoveAll(dst)
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
}

// expectRefusal checks a daemon that would not start: non-zero exit, an
// error naming the data dir and the recovery, and no panic.
func expectRefusal(t *testing.T, n *node, what string) {
	t.Helper()
	code, out, took := n.startFailing(20 * time.Second)
	if code == 0 || took > 10*time.Second {
		t.Fatalf("%s: exit %d after %s:\n%s", what, code, took, out)
	}
	for _, want := range []string{n.dataDir(), "Raft state cannot be used", "sw swarm restore FILE", "sw swarm join --token",
		"--force-new-cluster", "move the data dir " + n.dataDir() + " aside"} {
		if !strings.Contains(out, want) {
			t.Fatalf("%s: the daemon's error lacks %q:\n%s", what, want, out)
		}
	}
	for _, bad := range []string{"panic:", "goroutine ", "fatal error", "SIGSEGV", "SIGBUS"} {
		if strings.Contains(out, bad) {
			t.Fatalf("%s: the daemon crashed (%q):\n%s", what, bad, out)
		}
	}
	t.Logf("%s: refused in %s: %s", what, took.Round(10*time.Millisecond), firstLine(out))
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "Error:") {
			return l
		}
	}
	return strings.SplitN(s, "\n", 2)[0]
}

// TestDamagedStateRefused: a manager whose raft.db was emptied, cut in
// half, deleted, or had a log page damaged, and one whose snapshot was
// damaged, exits non-zero at start within seconds, naming its data dir and
// the recovery; so does a locked (autolocked) manager with an empty log.
// The undamaged data still starts, with its service.
func TestDamagedStateRefused(t *testing.T) {
	t.Parallel()
	n := newNode(t, "damaged")
	n.initSwarm()
	n.ok("service", "create", "--name", "dmg-web", "--replicas", "1", demoImage)
	n.ok("swarm", "backup", "-q", filepath.Join(n.dir, "unused.tar")) // leaves a snapshot in the data dir too
	n.ok("service", "scale", "dmg-web=2")                             // and entries after it
	n.stop()
	pristine := filepath.Join(n.dir, "pristine")
	copyTree(t, n.dataDir(), pristine)
	db := filepath.Join(n.dataDir(), "raft", "raft.db")
	snapState := func() string {
		m, _ := filepath.Glob(filepath.Join(n.dataDir(), "raft", "snapshots", "*", "state"))
		if len(m) == 0 {
			t.Fatal("no snapshot in the data dir")
		}
		return m[0]
	}
	flipAt := func(path string, off int64) {
		b, err := os.ReadFile(path)
		if err != nil || int64(len(b)) <= off {
			t.Fatalf("%s: %d bytes, %v", path, len(b), err)
		}
		b[off] ^= 0xff
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		damage func()
	}{
		{"raft.db emptied", func() { os.Truncate(db, 0) }},
		{"raft.db cut in half", func() {
			fi, _ := os.Stat(db)
			os.Truncate(db, fi.Size()/2)
		}},
		{"raft.db deleted", func() { os.Remove(db) }},
		{"raft.db and snapshots deleted", func() { os.RemoveAll(filepath.Join(n.dataDir(), "raft")) }},
		{"a byte of a log page flipped", func() { flipAt(db, lastLogValueOffset(t, db)+40) }},
		{"snapshot damaged", func() { flipAt(snapState(), 200) }},
	}
	for _, c := range cases {
		copyTree(t, pristine, n.dataDir())
		c.damage()
		expectRefusal(t, n, c.name)
	}
	// The undamaged data starts, with its service.
	copyTree(t, pristine, n.dataDir())
	n.start()
	waitFor(t, 15*time.Second, "the service after a restart on undamaged data", func() bool {
		r := n.sw("service", "ls", "--format", "{{.Name}} {{.Replicas}}")
		return r.code == 0 && strings.TrimSpace(r.stdout) == "dmg-web 2/2"
	})

	// A locked manager is checked as far as it can be without its key.
	l := newNode(t, "damaged-locked")
	l.ok("swarm", "init", "--listen-addr", l.ip+":2377", "--autolock")
	l.id = strings.TrimSpace(l.ok("info", "--format", "{{.NodeID}}"))
	l.stop()
	os.Truncate(filepath.Join(l.dataDir(), "raft", "raft.db"), 0)
	expectRefusal(t, l, "locked manager, raft.db emptied")
}

// lastLogValueOffset finds where the stored value of the last Raft log
// entry with a payload (a command) sits in raft.db.
func lastLogValueOffset(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var val []byte
	db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte("logs")).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if len(v) >= 100 {
				val = bytes.Clone(v)
				break
			}
		}
		return nil
	})
	db.Close()
	file, err := os.ReadFile(path)
	at := bytes.Index(file, val)
	if err != nil || len(val) < 100 || at < 0 {
		t.Fatalf("the last log entry (%d bytes) is not found in %s: %v", len(val), path, err)
	}
	return int64(at)
}

// inspectSpec is a service's spec as JSON.
func inspectSpec(n *node, svc string) string {
	n.t.Helper()
	return strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec}}", svc))
}

// notInSwarm checks a node refused a restore and is still outside any
// swarm, with nothing of a swarm in its data dir.
func notInSwarm(t *testing.T, n *node, what string) {
	t.Helper()
	if got := n.swarmState(); got != "inactive" {
		t.Fatalf("%s: Swarm = %q", what, got)
	}
	for _, f := range []string{"node.json", "certificates", "raft", "restore.tmp"} {
		if _, err := os.Stat(filepath.Join(n.dataDir(), f)); err == nil {
			t.Fatalf("%s: %s left in the data dir", what, f)
		}
	}
}

// TestBackupRestore: one manager and one worker, two services (one
// published); a backup; the manager's daemon killed, its containers and
// data dir gone; a new daemon on the same address restores the backup:
// same swarm and node IDs, the services' specs, tasks running again as
// containers, the worker back Ready, the published port answering. Bad
// archives are refused first, leaving the node outside any swarm.
func TestBackupRestore(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "br", 1, 1)
	m, w := ns[0], ns[1]
	port := freePort(t, m.ip)
	m.ok("service", "create", "--name", "br-web", "--replicas", "2", "-p", fmt.Sprintf("%d:8080", port), demoImage)
	m.ok("service", "create", "--name", "br-api", "--replicas", "1", "-e", "MODE=backup-test", "--label", "tier=api",
		"--restart-delay", "1s", demoImage)
	url := fmt.Sprintf("http://%s:%d/", m.ip, port)
	if body, err := httpGet(url); err != nil || !strings.HasPrefix(body, "hello from br-web.") {
		t.Fatalf("GET %s before the backup: %q, %v", url, body, err)
	}
	clusterID := strings.TrimSpace(m.ok("info", "--format", "{{.ClusterID}}"))
	specs := map[string]string{"br-web": inspectSpec(m, "br-web"), "br-api": inspectSpec(m, "br-api")}

	file := filepath.Join(t.TempDir(), "swarm.tar")
	out := m.ok("swarm", "backup", file)
	if !strings.Contains(out, "Backup of swarm "+clusterID+" written to "+file) || !strings.Contains(out, "Raft index") ||
		!strings.Contains(out, "keep it as safe as the data dir") {
		t.Fatalf("swarm backup printed:\n%s", out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v", fi, err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	man, err := backup.ReadManifest(f)
	f.Close()
	if err != nil || man.NodeID != m.id || man.ClusterID != clusterID || man.KeySealed || man.RaftIndex == 0 {
		t.Fatalf("manifest: %+v, %v", man, err)
	}
	// To stdout, the summary on stderr; quiet prints nothing.
	if r := m.sw("swarm", "backup", "-"); r.code != 0 || !strings.Contains(r.stderr, "written to stdout") {
		t.Fatalf("swarm backup -: exit %d, stderr %q", r.code, r.stderr)
	} else if mm, err := backup.ReadManifest(strings.NewReader(r.stdout)); err != nil || mm.ClusterID != clusterID {
		t.Fatalf("swarm backup - wrote no archive to stdout: %v", err)
	}
	if out := m.ok("swarm", "backup", "-q", file+".2"); out != "" {
		t.Fatalf("backup -q printed %q", out)
	}
	if r := m.sw("swarm", "backup", filepath.Join(t.TempDir(), "no", "such", "dir", "x.tar")); r.code == 0 {
		t.Fatal("a backup into a missing directory succeeded")
	}
	if r := w.sw("swarm", "backup", file+".w"); r.code == 0 || !strings.Contains(r.stderr, "not a swarm manager") {
		t.Fatalf("backup on a worker: %+v", r)
	}

	// The disaster: the manager's daemon dies, its containers and data
	// dir are lost.
	m.kill()
	if ids := dockerOut(t, "ps", "-aq", "--filter", "label=com.sw.node.id="+m.id); ids != "" {
		dockerOut(t, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	if err := os.RemoveAll(m.dataDir()); err != nil {
		t.Fatal(err)
	}
	m.start() // an empty data dir, on the same address
	notInSwarm(t, m, "the new daemon")

	// Bad archives first: each refused with a clear error, nothing kept.
	good, _ := os.ReadFile(file)
	random := make([]byte, 20000)
	rand.Read(random)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x01
	dir := t.TempDir()
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "not a valid sw swarm backup", good[:len(good)/2]},
		{"random bytes", "not a valid sw swarm backup: no manifest", random},
		{"a byte flipped", "not a valid sw swarm backup", flipped},
		{"empty", "not a valid sw swarm backup", nil},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		os.WriteFile(p, c.data, 0o600)
		r := m.sw("swarm", "restore", p)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Fatalf("restore of a %s archive: %+v", c.name, r)
		}
		notInSwarm(t, m, "after a "+c.name+" archive")
	}
	if r := m.sw("swarm", "restore", filepath.Join(dir, "missing.tar")); r.code == 0 || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("restore of a missing file: %+v", r)
	}

	out = m.ok("swarm", "restore", file)
	if !strings.Contains(out, "Swarm restored from "+file+": current node ("+m.id+") is now the only manager of swarm "+clusterID) ||
		!strings.Contains(out, "2 services, 2 nodes") {
		t.Fatalf("swarm restore printed:\n%s", out)
	}
	if got := strings.TrimSpace(m.ok("info", "--format", "{{.ClusterID}} {{.NodeID}} {{.IsManager}} {{.LeaderID}}")); got != clusterID+" "+m.id+" true "+m.id {
		t.Fatalf("info after restore: %q", got)
	}
	for svc, spec := range specs {
		if got := inspectSpec(m, svc); got != spec {
			t.Fatalf("%s's spec after restore:\n%s\nbefore:\n%s", svc, got, spec)
		}
	}
	if r := m.sw("swarm", "restore", file); r.code == 0 || !strings.Contains(r.stderr, "already part of a swarm") {
		t.Fatalf("restore on a node in a swarm: %+v", r)
	}
	took := eventually(t, 30*time.Second, "the worker Ready and both services' tasks running as containers", func() (bool, string) {
		st := nodeStates(m)
		web, api := runningTasksByNode(m, "br-web"), runningTasksByNode(m, "br-api")
		eng := map[string]int{}
		for _, svc := range []string{"br-web", "br-api"} {
			for k, v := range runningContainers(t, svc, m, w) {
				eng[k] += v
			}
		}
		ok := st[w.name].status == "Ready" && st[m.name] == nodeState{m.id, "Ready", "Leader"} &&
			sum(web) == 2 && sum(api) == 1 && sum(eng) == 3
		return ok, fmt.Sprintf("nodes %v, web %s, api %s, engine %s", st, describe(web), describe(api), describe(eng))
	})
	t.Logf("restored: the worker Ready and 3 tasks running %s after the restore", took.Round(100*time.Millisecond))
	eventually(t, 15*time.Second, "the published port answering", func() (bool, string) {
		body, err := httpGet(url)
		return err == nil && strings.HasPrefix(body, "hello from br-web."), fmt.Sprint(body, err)
	})
	// And the restored swarm takes writes, the worker gets work.
	m.ok("service", "scale", "br-web=4")
	eventually(t, 20*time.Second, "4 web tasks across both nodes", func() (bool, string) {
		by := runningTasksByNode(m, "br-web")
		return sum(by) == 4 && by[w.name] > 0, describe(by)
	})
}

// TestBackupRestoreAutolock: a backup of an autolocked swarm holds its
// keys sealed and nothing of the swarm in the clear; restoring it on a
// fresh data dir asks for the unlock key, refuses a wrong or missing one
// (the node left outside any swarm), and with the right one brings the
// swarm back, still autolocked with the same key.
func TestBackupRestoreAutolock(t *testing.T) {
	t.Parallel()
	a := newNode(t, "br-locked")
	_, key := a.initAutolocked()
	clusterID := strings.TrimSpace(a.ok("info", "--format", "{{.ClusterID}}"))
	a.ok("service", "create", "-d", "--name", alService, "-e", "SECRET="+alSecret, demoImage)
	spec := inspectSpec(a, alService)
	file := filepath.Join(t.TempDir(), "locked.tar")
	if out := a.ok("swarm", "backup", file); !strings.Contains(out, "restoring it needs the swarm's unlock key") {
		t.Fatalf("backup of an autolocked swarm printed:\n%s", out)
	}
	data, _ := os.ReadFile(file)
	for _, s := range []string{alService, alSecret, "SECRET=", "BEGIN EC PRIVATE KEY"} {
		if bytes.Contains(data, []byte(s)) {
			t.Fatalf("the backup holds %q in the clear", s)
		}
	}
	if !bytes.Contains(data, []byte("-----BEGIN SW SEALED PRIVATE KEY-----")) {
		t.Fatal("the backup's key file is not sealed")
	}
	// The manager is lost; a fresh node restores the backup.
	a.kill()
	if ids := dockerOut(t, "ps", "-aq", "--filter", "label=com.sw.node.id="+a.id); ids != "" {
		dockerOut(t, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	b := newNode(t, "br-restored")
	listen := []string{"swarm", "restore", "--listen-addr", b.ip + ":2377", file}
	for _, c := range []struct{ name, stdin, want string }{
		{"no key", "\n", "no unlock key given"},
		{"a wrong key", randomUnlockKey() + "\n", "invalid unlock key: it does not open this backup's keys"},
		{"a malformed key", "SWMKEY-1-nope\n", "invalid unlock key"},
	} {
		r := b.swIn(c.stdin, listen...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("restore with %s: %+v", c.name, r)
		}
		notInSwarm(t, b, "after "+c.name)
	}
	r := b.swIn(key+"\n", listen...)
	if r.code != 0 || !strings.Contains(r.stdout, "is now the only manager of swarm "+clusterID) {
		t.Fatalf("restore with the right key: %+v", r)
	}
	b.id = a.id
	if got := strings.TrimSpace(b.ok("info", "--format", "{{.ClusterID}} {{.NodeID}}")); got != clusterID+" "+a.id {
		t.Fatalf("info after restore: %q", got)
	}
	if got := inspectSpec(b, alService); got != spec {
		t.Fatalf("spec after restore:\n%s\nbefore:\n%s", got, spec)
	}
	if got := strings.TrimSpace(b.ok("swarm", "unlock-key", "-q")); got != key {
		t.Fatalf("unlock key after restore %q, want %q", got, key)
	}
	if !b.sealedWith(key) {
		t.Fatal("the restored key file is not sealed with the swarm's key")
	}
	noSecretsOnDisk(t, b, alService, alSecret)
	// Still autolocked: a restart comes up locked, and unlocks.
	b.kill()
	b.start()
	if got := b.swarmState(); got != "locked" {
		t.Fatalf("restored manager after a restart: %q", got)
	}
	unlock(t, b, key)
	waitFor(t, 20*time.Second, "the restored service's task running", func() bool {
		return runningContainers(t, alService, b)[b.name] == 1
	})
}
