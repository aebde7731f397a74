package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"sw/cluster/pki"
	"sw/cluster/seal"
)

// The autolock plugin: a restarted manager of an autolocked swarm stays
// locked, with nothing readable of the swarm on its disk, until given the
// unlock key.

const (
	alService = "autolock-zebra-7f3a"
	alSecret  = "olive-c4e9-secret"
)

var unlockKeyRe = regexp.MustCompile(`SWMKEY-1-[A-Za-z0-9+/]{43}`)

// initAutolocked makes n a one-manager swarm with autolock on; it returns
// what init printed and the unlock key in it.
func (n *node) initAutolocked() (out, key string) {
	n.t.Helper()
	out = n.ok("swarm", "init", "--listen-addr", n.ip+":2377", "--autolock")
	n.id = strings.TrimSpace(n.ok("info", "--format", "{{.NodeID}}"))
	return out, unlockKeyRe.FindString(out)
}

// stop stops the daemon gracefully (SIGTERM) and waits for it to exit.
func (n *node) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _, _ = n.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		n.t.Fatalf("%s did not stop within 10s of SIGTERM", n.name)
	}
	n.stopped = true
	_ = os.Remove(n.sock)
}

func (n *node) swarmState() string {
	n.t.Helper()
	return strings.TrimSpace(n.ok("info", "--format", "{{.Swarm}}"))
}

func (n *node) keyFile() string {
	return filepath.Join(n.dir, "data", "certificates", "swarm-node.key")
}

// keySealed reports whether the node's key file is sealed by autolock.
func (n *node) keySealed() bool {
	b, err := os.ReadFile(n.keyFile())
	return err == nil && bytes.HasPrefix(b, []byte("-----BEGIN SW SEALED PRIVATE KEY-----"))
}

// sealedWith reports whether the node's key file opens with unlock key.
func (n *node) sealedWith(key string) bool {
	raw, err := pki.ParseUnlockKey(key)
	if err != nil {
		return false
	}
	kek, err := seal.KEK(raw)
	if err != nil {
		return false
	}
	b, err := os.ReadFile(n.keyFile())
	if err != nil || !seal.IsSealed(b) {
		return false
	}
	_, err = seal.ParseKeyFile(b, &kek)
	return err == nil
}

// noSecretsOnDisk fails the test if any file under the node's data dir
// (raft.db, snapshots, certificates, node.json) holds one of needles.
func noSecretsOnDisk(t *testing.T, n *node, needles ...string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(filepath.Join(n.dir, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, s := range needles {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s: %s holds %q in the clear", n.name, p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 4 {
		t.Fatalf("%s: only %d files in the data dir", n.name, files)
	}
}

func randomUnlockKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "SWMKEY-1-" + base64.RawStdEncoding.EncodeToString(b)
}

// expectLocked checks a restarted manager is locked: info says so, other
// commands are refused, its disk shows nothing, wrong keys are refused.
func expectLocked(t *testing.T, n *node) {
	t.Helper()
	if got := n.swarmState(); got != "locked" {
		t.Fatalf("%s: info Swarm = %q, want locked", n.name, got)
	}
	if out := n.ok("info"); !strings.Contains(out, " Swarm: locked") {
		t.Fatalf("%s: sw info:\n%s", n.name, out)
	}
	for _, args := range [][]string{{"service", "ls"}, {"node", "ls"}, {"swarm", "join-token", "worker"}} {
		if r := n.sw(args...); r.code == 0 || !strings.Contains(r.stderr, "swarm is locked") || !strings.Contains(r.stderr, "sw swarm unlock") {
			t.Fatalf("%s: sw %v on a locked manager: %+v", n.name, args, r)
		}
	}
	noSecretsOnDisk(t, n, alService, alSecret)
	if r := n.swIn(randomUnlockKey()+"\n", "swarm", "unlock"); r.code != 1 || !strings.Contains(r.stderr, "invalid unlock key") {
		t.Fatalf("%s: a wrong key: %+v", n.name, r)
	}
	if r := n.swIn("not-a-key\n", "swarm", "unlock"); r.code != 1 || !strings.Contains(r.stderr, "invalid unlock key") {
		t.Fatalf("%s: a malformed key: %+v", n.name, r)
	}
	if n.swarmState() != "locked" {
		t.Fatalf("%s: no longer locked after wrong keys", n.name)
	}
}

func unlock(t *testing.T, n *node, key string) {
	t.Helper()
	if r := n.swIn(key+"\n", "swarm", "unlock"); r.code != 0 {
		t.Fatalf("%s: unlock with the right key: %+v", n.name, r)
	}
	if got := n.swarmState(); got != "active" {
		t.Fatalf("%s: after unlock Swarm = %q", n.name, got)
	}
}

// TestAutolock: one manager, autolocked at init; locked after SIGKILL and
// after SIGTERM; key rotation (the old key refused); autolock turned off,
// after which it restarts unlocked.
func TestAutolock(t *testing.T) {
	t.Parallel()
	n := newNode(t, "autolock")
	out, key := n.initAutolocked()
	if key == "" || !strings.Contains(out, "To unlock a swarm manager after it restarts, run the `sw swarm unlock` command and provide the following key:\n\n    "+key+"\n") {
		t.Fatalf("init --autolock printed:\n%s", out)
	}
	if got := strings.TrimSpace(n.ok("swarm", "unlock-key", "-q")); got != key {
		t.Fatalf("unlock-key -q = %q, init printed %q", got, key)
	}
	if out := n.ok("swarm", "unlock-key"); !strings.Contains(out, "    "+key+"\n") || !strings.Contains(out, "sw swarm unlock") {
		t.Fatalf("unlock-key:\n%s", out)
	}
	if got := n.ok("plugin", "ls", "--format", "{{.Name}}={{.Enabled}}"); !strings.Contains(got, "autolock=true") {
		t.Fatalf("plugin ls: %s", got)
	}
	if !n.keySealed() {
		t.Fatal("the key file is not sealed after init --autolock")
	}
	if r := n.swIn(key, "swarm", "unlock"); r.code == 0 || !strings.Contains(r.stderr, "not locked") {
		t.Fatalf("unlock of an unlocked manager: %+v", r)
	}
	n.ok("service", "create", "-d", "--name", alService, "-e", "SECRET="+alSecret, demoImage)

	n.kill()
	n.start()
	expectLocked(t, n)
	unlock(t, n, key)
	env := n.ok("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Env}}", alService)
	if !strings.Contains(env, "SECRET="+alSecret) {
		t.Fatalf("service after unlock: env %q", env)
	}

	// Rotation: the manager re-seals with the new key; the old one no
	// longer opens it.
	rot := n.ok("swarm", "unlock-key", "--rotate")
	newKey := unlockKeyRe.FindString(rot)
	if !strings.HasPrefix(rot, "Successfully rotated manager unlock key.") || newKey == "" || newKey == key {
		t.Fatalf("unlock-key --rotate printed:\n%s", rot)
	}
	if got := strings.TrimSpace(n.ok("swarm", "unlock-key", "-q")); got != newKey {
		t.Fatalf("unlock-key -q after rotate = %q, want %q", got, newKey)
	}
	waitFor(t, 5*time.Second, "the key file re-sealed with the new key", func() bool { return n.sealedWith(newKey) })
	n.stop()
	n.start()
	expectLocked(t, n)
	if r := n.swIn(key+"\n", "swarm", "unlock"); r.code != 1 || !strings.Contains(r.stderr, "invalid unlock key") {
		t.Fatalf("the key from before the rotation: %+v", r)
	}
	unlock(t, n, newKey)

	// Autolock off: the key file is stored unsealed again; a restart comes
	// up unlocked; the Raft data stays encrypted (with a key in the clear).
	if out := n.ok("swarm", "update", "--autolock=false"); strings.TrimSpace(out) != "Swarm updated." {
		t.Fatalf("swarm update --autolock=false: %q", out)
	}
	for _, args := range [][]string{{"swarm", "unlock-key"}, {"swarm", "unlock-key", "--rotate"}} {
		if r := n.sw(args...); r.code == 0 || !strings.Contains(r.stderr, "plugin autolock is disabled") {
			t.Fatalf("sw %v with autolock off: %+v", args, r)
		}
	}
	waitFor(t, 5*time.Second, "the key file unsealed", func() bool { return !n.keySealed() })
	n.kill()
	n.start()
	waitFor(t, 10*time.Second, "swarm active after restart", func() bool { return n.swarmState() == "active" })
	if got := strings.TrimSpace(n.ok("service", "ls", "-q", "-f", "name="+alService)); got == "" {
		t.Fatal("service lost after restart with autolock off")
	}
	noSecretsOnDisk(t, n, alService, alSecret)

	// On again, then a locked manager leaves: only with --force.
	key = unlockKeyRe.FindString(n.ok("swarm", "update", "--autolock=true"))
	waitFor(t, 5*time.Second, "the key file sealed again", func() bool { return n.sealedWith(key) })
	n.kill()
	n.start()
	if got := n.swarmState(); got != "locked" {
		t.Fatalf("Swarm = %q after autolock on again", got)
	}
	if r := n.sw("swarm", "init", "--listen-addr", n.ip+":2377"); r.code == 0 || !strings.Contains(r.stderr, "swarm is locked") {
		t.Fatalf("init on a locked manager: %+v", r)
	}
	if r := n.sw("swarm", "leave"); r.code == 0 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("leave without --force on a locked manager: %+v", r)
	}
	n.ok("swarm", "leave", "--force")
	if got := n.swarmState(); got != "inactive" {
		t.Fatalf("Swarm = %q after leave --force", got)
	}
	if _, err := os.Stat(n.keyFile()); err == nil {
		t.Fatal("the key file is still there after leave --force")
	}
}

// TestAutolockCluster: autolock turned on and off at runtime on a swarm of
// three managers and a worker. A restarted manager is locked while the
// others serve; a key rotated while it was down leaves it needing the old
// key; workers are never locked; `plugin disable autolock` unseals every
// manager's key file.
func TestAutolockCluster(t *testing.T) {
	t.Parallel()
	ns := newSwarm(t, "al", 3, 1)
	m1, m2, m3, w1 := ns[0], ns[1], ns[2], ns[3]
	if r := m1.sw("swarm", "unlock-key"); r.code == 0 || !strings.Contains(r.stderr, "plugin autolock is disabled") {
		t.Fatalf("unlock-key before autolock: %+v", r)
	}
	out := m1.ok("swarm", "update", "--autolock=true")
	key := unlockKeyRe.FindString(out)
	if !strings.HasPrefix(out, "Swarm updated.") || key == "" {
		t.Fatalf("swarm update --autolock=true printed:\n%s", out)
	}
	eventually(t, 5*time.Second, "the same key on m2", func() (bool, string) {
		r := m2.sw("swarm", "unlock-key", "-q")
		return strings.TrimSpace(r.stdout) == key, r.stdout + r.stderr
	})
	m1.ok("service", "create", "-d", "--name", alService, "-e", "SECRET="+alSecret, demoImage)
	for _, m := range []*node{m1, m2, m3} {
		waitFor(t, 10*time.Second, m.name+"'s key file sealed", func() bool { return m.sealedWith(key) })
	}
	if w1.keySealed() {
		t.Fatal("a worker's key file was sealed")
	}

	m3.kill()
	m3.start()
	expectLocked(t, m3)
	// Rotated while m3 is locked: m3 still needs the old key.
	newKey := strings.TrimSpace(m1.ok("swarm", "unlock-key", "--rotate", "-q"))
	if newKey == key || !unlockKeyRe.MatchString(newKey) {
		t.Fatalf("rotated key %q", newKey)
	}
	if r := m3.swIn(newKey+"\n", "swarm", "unlock"); r.code != 1 || !strings.Contains(r.stderr, "invalid unlock key") {
		t.Fatalf("m3 with the key rotated while it was locked: %+v", r)
	}
	unlock(t, m3, key)
	eventually(t, 15*time.Second, "m3 back, following the leader", func() (bool, string) {
		l := m3.leaderID()
		return l != "" && l == m1.leaderID(), "m3 says " + l
	})
	if got := strings.TrimSpace(m3.ok("service", "ls", "-q", "-f", "name="+alService)); got == "" {
		t.Fatal("m3 does not see the service after unlock")
	}
	// m3 now follows the rotation: the new key opens it.
	waitFor(t, 10*time.Second, "m3's key file re-sealed with the new key", func() bool { return m3.sealedWith(newKey) })
	m3.kill()
	m3.start()
	expectLocked(t, m3)
	unlock(t, m3, newKey)

	// A worker restarts unlocked.
	w1.kill()
	w1.start()
	waitFor(t, 10*time.Second, "the worker active after restart", func() bool { return w1.swarmState() == "active" })

	// Off at runtime, through the plugin switch, from another manager.
	m2.ok("plugin", "disable", "autolock")
	for _, m := range []*node{m1, m2, m3} {
		waitFor(t, 10*time.Second, m.name+"'s key file unsealed", func() bool { return !m.keySealed() })
	}
	if r := m1.sw("swarm", "unlock-key", "-q"); r.code == 0 || !strings.Contains(r.stderr, "plugin autolock is disabled") {
		t.Fatalf("unlock-key after plugin disable: %+v", r)
	}
	m3.kill()
	m3.start()
	waitFor(t, 10*time.Second, "m3 active after restart", func() bool { return m3.swarmState() == "active" })
	noSecretsOnDisk(t, m3, alService, alSecret)

	// And on again through the plugin switch: a new key, printed.
	out = m2.ok("plugin", "enable", "autolock")
	if k := unlockKeyRe.FindString(out); k == "" || k == newKey {
		t.Fatalf("plugin enable autolock printed:\n%s", out)
	}
}
