package keyfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"sw/cluster/pki"
	"sw/cluster/seal"
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

func testPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "certificates", "swarm-node.key")
}

func newTestKeys(t *testing.T) (*File, []byte) {
	t.Helper()
	k := New(testPath(t))
	keyPEM, _, err := pki.NewKeyAndCSR("node1")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.WriteKey(keyPEM, true); err != nil {
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
	if k.SealedOnDisk() {
		t.Fatal("a new key file is sealed")
	}
	dek0 := k.Keyring().Current()
	data := &fakeData{ring: k.Keyring()}

	key1 := unlockKey(t)
	if err := k.Follow(key1, data); err != nil {
		t.Fatal(err)
	}
	if !k.SealedOnDisk() {
		t.Fatal("not sealed after autolock on")
	}
	dek1 := k.Keyring().Current()
	if dek1 == dek0 || k.Keyring().Previous() != nil {
		t.Fatal("turning autolock on did not rotate the data key (or kept the old one)")
	}
	if len(data.calls) != 1 || data.calls[0].cur != dek1 || data.calls[0].prev == nil || *data.calls[0].prev != dek0 {
		t.Fatalf("re-encryption: %d calls, not with new+old keys", len(data.calls))
	}
	b, _ := os.ReadFile(k.Path())
	if bytes.Contains(b, keyPEM[30:60]) {
		t.Fatal("the TLS key shows in the sealed file")
	}

	// Same key again: nothing to do.
	if err := k.Follow(key1, data); err != nil || len(data.calls) != 1 {
		t.Fatalf("follow of the same key: %v, %d calls", err, len(data.calls))
	}
	// A rotated unlock key re-seals, the data key stays.
	key2 := unlockKey(t)
	if err := k.Follow(key2, data); err != nil {
		t.Fatal(err)
	}
	if k.Keyring().Current() != dek1 || len(data.calls) != 1 {
		t.Fatal("an unlock key rotation changed the data key")
	}

	// A restart: a fresh File on the same path is locked.
	k2 := New(k.Path())
	if k2.HasKEK() || !k2.SealedOnDisk() {
		t.Fatal("a restart knows the KEK, or the file is not sealed")
	}
	if _, err := k2.Load(); !errors.Is(err, ErrLocked) {
		t.Fatalf("load of a sealed file without the key: %v", err)
	}
	if err := k2.Open(key1); !errors.Is(err, ErrInvalidUnlockKey) {
		t.Fatalf("the key before the rotation: %v", err)
	}
	if err := k2.Open(key2); err != nil {
		t.Fatal(err)
	}
	got, err := k2.Load()
	if err != nil || !bytes.Equal(got, keyPEM) || k2.Keyring().Current() != dek1 {
		t.Fatalf("load after unlock: %v", err)
	}

	// Autolock off: stored unsealed, same data key.
	if err := k2.Follow(nil, &fakeData{ring: k2.Keyring()}); err != nil {
		t.Fatal(err)
	}
	if k2.SealedOnDisk() {
		t.Fatal("still sealed after autolock off")
	}
	k3 := New(k.Path())
	if _, err := k3.Load(); err != nil || k3.Keyring().Current() != dek1 {
		t.Fatalf("load after autolock off: %v", err)
	}
}

// TestNodeKeysInterruptedRotation: a failed re-encryption leaves both
// data keys in the (sealed) file; the next follow finishes the rotation.
func TestNodeKeysInterruptedRotation(t *testing.T) {
	k, _ := newTestKeys(t)
	key := unlockKey(t)
	data := &fakeData{ring: k.Keyring(), fail: errors.New("disk full")}
	if err := k.Follow(key, data); err == nil {
		t.Fatal("a failed re-encryption was not reported")
	}
	// As after a crash: the file has both keys.
	k2 := New(k.Path())
	if err := k2.Open(key); err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Load(); err != nil {
		t.Fatal(err)
	}
	if k2.Keyring().Previous() == nil {
		t.Fatal("the interrupted rotation's old key is not in the file")
	}
	data2 := &fakeData{ring: k2.Keyring()}
	if err := k2.Follow(key, data2); err != nil {
		t.Fatal(err)
	}
	if len(data2.calls) != 1 || k2.Keyring().Previous() != nil {
		t.Fatalf("rotation not finished: %d calls", len(data2.calls))
	}
	k3 := New(k.Path())
	k3.Open(key)
	if _, err := k3.Load(); err != nil || k3.Keyring().Previous() != nil {
		t.Fatalf("file after the finished rotation: %v", err)
	}
}

// TestNodeKeysWorkerUnsealed: a worker's key file is never sealed, and a
// key file without a data key gets one.
func TestNodeKeysWorkerUnsealed(t *testing.T) {
	k, keyPEM := newTestKeys(t)
	if err := k.Follow(unlockKey(t), &fakeData{ring: k.Keyring()}); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteKey(keyPEM, false); err != nil {
		t.Fatal(err)
	}
	if k.SealedOnDisk() {
		t.Fatal("a worker's key file is sealed")
	}
	os.WriteFile(k.Path(), keyPEM, 0o600) // a key file from before data keys
	k2 := New(k.Path())
	if _, err := k2.Load(); err != nil || k2.Keyring() == nil {
		t.Fatalf("load of a key without a data key: %v", err)
	}
	kf, err := seal.ParseKeyFile(must(os.ReadFile(k.Path())), nil)
	if err != nil || kf.DEK == nil || *kf.DEK != k2.Keyring().Current() {
		t.Fatalf("the new data key was not written: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestNodeKeysSealedFromStart: with `init --autolock` the first write of
// the key file is sealed, and following the same unlock key rotates
// nothing (no data key was ever on disk in the clear).
func TestNodeKeysSealedFromStart(t *testing.T) {
	k := New(testPath(t))
	key := unlockKey(t)
	if err := k.SealFromStart(key); err != nil {
		t.Fatal(err)
	}
	keyPEM, _, err := pki.NewKeyAndCSR("node1")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.WriteKey(keyPEM, true); err != nil {
		t.Fatal(err)
	}
	if !k.SealedOnDisk() {
		t.Fatal("the first key file is not sealed")
	}
	dek := k.Keyring().Current()
	data := &fakeData{ring: k.Keyring()}
	if err := k.Follow(key, data); err != nil {
		t.Fatal(err)
	}
	if len(data.calls) != 0 || k.Keyring().Current() != dek {
		t.Fatalf("following the init key rotated the data key (%d re-encryptions)", len(data.calls))
	}
	if err := k.SealFromStart([]byte("short")); err == nil {
		t.Fatal("a malformed unlock key was taken")
	}
}
