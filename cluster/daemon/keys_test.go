package daemon

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"sw/cluster/hooks"
	"sw/cluster/pki"
	"sw/cluster/seal"
	"sw/cluster/types"
)

// fakeData stands for the manager's Raft: it records the keyring's state
// each time it is asked to re-encrypt.
type fakeData struct {
	ring  *seal.Keyring
	calls []ringState
	fail  error
}

type ringState struct {
	cur  seal.Key
	prev *seal.Key
}

func (f *fakeData) Reencrypt() error {
	f.calls = append(f.calls, ringState{f.ring.Current(), f.ring.Previous()})
	return f.fail
}

func newTestKeys(t *testing.T) (*nodeKeys, []byte) {
	t.Helper()
	k := newNodeKeys(t.TempDir())
	keyPEM, _, err := pki.NewKeyAndCSR("node1")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.writeKey(keyPEM, true); err != nil {
		t.Fatal(err)
	}
	return k, keyPEM
}

func unlockKey(t *testing.T) []byte {
	t.Helper()
	_, raw, err := pki.NewUnlockKey()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestNodeKeysLifecycle: unsealed at first; autolock on seals the file and
// rotates the data key (re-encrypting with both keys known); a new unlock
// key re-seals without a rotation; a restart is locked until the right
// key; autolock off unseals.
func TestNodeKeysLifecycle(t *testing.T) {
	k, keyPEM := newTestKeys(t)
	if k.sealedOnDisk() {
		t.Fatal("a new key file is sealed")
	}
	dek0 := k.keyring().Current()
	data := &fakeData{ring: k.keyring()}

	key1 := unlockKey(t)
	if err := k.follow(key1, data); err != nil {
		t.Fatal(err)
	}
	if !k.sealedOnDisk() {
		t.Fatal("not sealed after autolock on")
	}
	dek1 := k.keyring().Current()
	if dek1 == dek0 || k.keyring().Previous() != nil {
		t.Fatal("turning autolock on did not rotate the data key (or kept the old one)")
	}
	if len(data.calls) != 1 || data.calls[0].cur != dek1 || data.calls[0].prev == nil || *data.calls[0].prev != dek0 {
		t.Fatalf("re-encryption: %d calls, not with new+old keys", len(data.calls))
	}
	b, _ := os.ReadFile(k.path())
	if bytes.Contains(b, keyPEM[30:60]) {
		t.Fatal("the TLS key shows in the sealed file")
	}

	// Same key again: nothing to do.
	if err := k.follow(key1, data); err != nil || len(data.calls) != 1 {
		t.Fatalf("follow of the same key: %v, %d calls", err, len(data.calls))
	}
	// A rotated unlock key re-seals, the data key stays.
	key2 := unlockKey(t)
	if err := k.follow(key2, data); err != nil {
		t.Fatal(err)
	}
	if k.keyring().Current() != dek1 || len(data.calls) != 1 {
		t.Fatal("an unlock key rotation changed the data key")
	}

	// A restart: a fresh nodeKeys on the same dir is locked.
	k2 := &nodeKeys{dir: k.dir}
	if _, err := k2.load(); !errors.Is(err, errLocked) {
		t.Fatalf("load of a sealed file without the key: %v", err)
	}
	if err := k2.unlock(key1); !errors.Is(err, errInvalidUnlockKey) {
		t.Fatalf("the key before the rotation: %v", err)
	}
	if err := k2.unlock(key2); err != nil {
		t.Fatal(err)
	}
	got, err := k2.load()
	if err != nil || !bytes.Equal(got, keyPEM) || k2.keyring().Current() != dek1 {
		t.Fatalf("load after unlock: %v", err)
	}

	// Autolock off: stored unsealed, same data key.
	if err := k2.follow(nil, &fakeData{ring: k2.keyring()}); err != nil {
		t.Fatal(err)
	}
	if k2.sealedOnDisk() {
		t.Fatal("still sealed after autolock off")
	}
	k3 := &nodeKeys{dir: k.dir}
	if _, err := k3.load(); err != nil || k3.keyring().Current() != dek1 {
		t.Fatalf("load after autolock off: %v", err)
	}
}

// TestNodeKeysInterruptedRotation: a failed re-encryption leaves both
// data keys in the (sealed) file; the next follow finishes the rotation.
func TestNodeKeysInterruptedRotation(t *testing.T) {
	k, _ := newTestKeys(t)
	key := unlockKey(t)
	data := &fakeData{ring: k.keyring(), fail: errors.New("disk full")}
	if err := k.follow(key, data); err == nil {
		t.Fatal("a failed re-encryption was not reported")
	}
	// As after a crash: the file has both keys.
	k2 := &nodeKeys{dir: k.dir}
	if err := k2.unlock(key); err != nil {
		t.Fatal(err)
	}
	if _, err := k2.load(); err != nil {
		t.Fatal(err)
	}
	if k2.keyring().Previous() == nil {
		t.Fatal("the interrupted rotation's old key is not in the file")
	}
	data2 := &fakeData{ring: k2.keyring()}
	if err := k2.follow(key, data2); err != nil {
		t.Fatal(err)
	}
	if len(data2.calls) != 1 || k2.keyring().Previous() != nil {
		t.Fatalf("rotation not finished: %d calls", len(data2.calls))
	}
	k3 := &nodeKeys{dir: k.dir}
	k3.unlock(key)
	if _, err := k3.load(); err != nil || k3.keyring().Previous() != nil {
		t.Fatalf("file after the finished rotation: %v", err)
	}
}

// TestNodeKeysWorkerUnsealed: a worker's key file is never sealed, and a
// key file without a data key gets one.
func TestNodeKeysWorkerUnsealed(t *testing.T) {
	k, keyPEM := newTestKeys(t)
	if err := k.follow(unlockKey(t), &fakeData{ring: k.keyring()}); err != nil {
		t.Fatal(err)
	}
	if err := k.writeKey(keyPEM, false); err != nil {
		t.Fatal(err)
	}
	if k.sealedOnDisk() {
		t.Fatal("a worker's key file is sealed")
	}
	os.WriteFile(k.path(), keyPEM, 0o600) // a key file from before data keys
	k2 := &nodeKeys{dir: k.dir}
	if _, err := k2.load(); err != nil || k2.keyring() == nil {
		t.Fatalf("load of a key without a data key: %v", err)
	}
	kf, err := seal.ParseKeyFile(must(os.ReadFile(k.path())), nil)
	if err != nil || kf.DEK == nil || *kf.DEK != k2.keyring().Current() {
		t.Fatalf("the new data key was not written: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type keysNamed string

func (n keysNamed) Name() string        { return string(n) }
func (n keysNamed) Description() string { return "test plugin " + string(n) }

type lockerPlugin struct{ keysNamed }

func (lockerPlugin) LocksManagers()        {}
func (lockerPlugin) DefaultDisabled() bool { return true }

var _ hooks.Locker = lockerPlugin{}

// TestUnlockKeyFollowsSwitch: the cluster has an unlock key exactly while
// the locking plugin is on; rotating needs it on; errors name it.
func TestUnlockKeyFollowsSwitch(t *testing.T) {
	d := testDaemon(keysNamed("ingress"), lockerPlugin{keysNamed("autolock")})
	c := &types.Cluster{Plugins: map[string]bool{"ingress": true}}
	if err := d.keepUnlockKey(c); err != nil || c.UnlockKey != nil {
		t.Fatalf("default off: key %x, %v", c.UnlockKey, err)
	}
	if err := d.rotateUnlockKey(c); err == nil || err.Error() != "plugin autolock is disabled: no unlock key is set; enable it with 'sw plugin enable autolock'" {
		t.Fatalf("rotate while off: %v", err)
	}
	c.Plugins["autolock"] = true
	d.keepUnlockKey(c)
	first := c.UnlockKey
	if len(first) != 32 {
		t.Fatalf("on: key %x", first)
	}
	d.keepUnlockKey(c)
	if !bytes.Equal(c.UnlockKey, first) {
		t.Fatal("the key changed on an unrelated write")
	}
	if err := d.rotateUnlockKey(c); err != nil || bytes.Equal(c.UnlockKey, first) || len(c.UnlockKey) != 32 {
		t.Fatalf("rotate: %v", err)
	}
	c.Plugins["autolock"] = false
	d.keepUnlockKey(c)
	if c.UnlockKey != nil {
		t.Fatal("key kept with the plugin off")
	}
	// Without a locking plugin there is never a key.
	d = testDaemon(keysNamed("ingress"))
	c = &types.Cluster{UnlockKey: first}
	d.keepUnlockKey(c)
	if c.UnlockKey != nil {
		t.Fatal("key kept without a locking plugin")
	}
}

// TestNodeKeysSealedFromStart: with `init --autolock` the first write of
// the key file is sealed, and following the same unlock key rotates
// nothing (no data key was ever on disk in the clear).
func TestNodeKeysSealedFromStart(t *testing.T) {
	k := newNodeKeys(t.TempDir())
	key := unlockKey(t)
	if err := k.sealFromStart(key); err != nil {
		t.Fatal(err)
	}
	keyPEM, _, err := pki.NewKeyAndCSR("node1")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.writeKey(keyPEM, true); err != nil {
		t.Fatal(err)
	}
	if !k.sealedOnDisk() {
		t.Fatal("the first key file is not sealed")
	}
	dek := k.keyring().Current()
	data := &fakeData{ring: k.keyring()}
	if err := k.follow(key, data); err != nil {
		t.Fatal(err)
	}
	if len(data.calls) != 0 || k.keyring().Current() != dek {
		t.Fatalf("following the init key rotated the data key (%d re-encryptions)", len(data.calls))
	}
	if err := k.sealFromStart([]byte("short")); err == nil {
		t.Fatal("a malformed unlock key was taken")
	}
}
