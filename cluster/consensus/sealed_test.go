package consensus

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"sw/cluster/seal"
	"sw/cluster/store"
	"sw/cluster/types"
)

const (
	secretName  = "zebra-secret-svc"
	secretValue = "olive-9d2f-value"
)

func createSecretService(t *testing.T, n *Node, i int) {
	t.Helper()
	svc := &types.Service{ID: fmt.Sprintf("sec%d", i), Spec: types.ServiceSpec{
		Name:      fmt.Sprintf("%s-%d", secretName, i),
		Container: types.ContainerSpec{Image: "img", Env: []string{"SECRET=" + secretValue}},
	}}
	if err := n.Propose(context.Background(), &store.Command{Changes: []store.Change{{CreateService: svc}}}); err != nil {
		t.Fatal(err)
	}
}

// grepDir fails the test if any file below dir contains one of needles.
func grepDir(t *testing.T, dir string, needles ...string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range needles {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in the clear", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("only %d files under %s: no snapshot taken?", files, dir)
	}
}

// TestAtRestEncrypted: neither the log nor the snapshots show a service's
// name or environment; the same key reads them back, another is refused.
func TestAtRestEncrypted(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	keys := seal.NewKeyring(seal.Key{9}, nil)
	n, _ := openWith(t, dir, addr, true, keys)
	createSecretService(t, n, 1)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	createSecretService(t, n, 2) // in the log only
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	grepDir(t, dir, secretName, secretValue, "SECRET=")

	n2, st := openWith(t, dir, addr, false, keys)
	if got := len(st.View().Services()); got != 2 {
		t.Fatalf("services after restart: %d", got)
	}
	if s := st.View().ServiceByName(secretName + "-2"); s == nil || s.Spec.Container.Env[0] != "SECRET="+secretValue {
		t.Fatalf("service from the log: %+v", s)
	}
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := Open(Config{Dir: dir, NodeID: "n1", BindAddr: addr, AdvertiseAddr: addr,
		Keys: seal.NewKeyring(seal.Key{8}, nil)}, store.New())
	if err == nil {
		t.Fatal("Raft data opened with another key")
	}
	if _, err := Open(Config{Dir: dir, NodeID: "n1", BindAddr: addr, AdvertiseAddr: addr}, store.New()); err == nil {
		t.Fatal("Open without keys was accepted")
	}
}

// TestReencrypt: after a rotation and Reencrypt, the new key alone reads
// everything, and the old one nothing.
func TestReencrypt(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	k1, k2 := seal.Key{1}, seal.Key{2}
	keys := seal.NewKeyring(k1, nil)
	n, _ := openWith(t, dir, addr, true, keys)
	createSecretService(t, n, 1)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	createSecretService(t, n, 2)
	if err := keys.Rotate(k2); err != nil {
		t.Fatal(err)
	}
	createSecretService(t, n, 3) // written during the rotation
	if err := n.Reencrypt(); err != nil {
		t.Fatal(err)
	}
	keys.DropPrevious()
	createSecretService(t, n, 4)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2, st := openWith(t, dir, addr, false, seal.NewKeyring(k2, nil))
	if got := len(st.View().Services()); got != 4 {
		t.Fatalf("services after re-encryption and restart: %d", got)
	}
	n2.Close()
	if _, err := Open(Config{Dir: dir, NodeID: "n1", BindAddr: addr, AdvertiseAddr: addr,
		Keys: seal.NewKeyring(k1, nil)}, store.New()); err == nil {
		t.Fatal("the old key still opens the data")
	}
}

// TestSealedLogs: entries are stored sealed, the caller's entries are left
// alone, and an entry moved to another index is refused.
func TestSealedLogs(t *testing.T) {
	inner := raft.NewInmemStore()
	s := &sealedLogs{inner: inner, ring: seal.NewKeyring(seal.Key{5}, nil)}
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("first " + secretValue), Extensions: []byte("ext")},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("second")},
		{Index: 3, Term: 1, Type: raft.LogNoop},
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if string(logs[0].Data) != "first "+secretValue {
		t.Fatal("StoreLogs changed the caller's entry")
	}
	var raw raft.Log
	if err := inner.GetLog(1, &raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw.Data, []byte(secretValue)) || bytes.Equal(raw.Extensions, []byte("ext")) {
		t.Fatal("entry stored in the clear")
	}
	var got raft.Log
	if err := s.GetLog(1, &got); err != nil || string(got.Data) != "first "+secretValue || string(got.Extensions) != "ext" {
		t.Fatalf("GetLog = %q %q, %v", got.Data, got.Extensions, err)
	}
	if err := s.GetLog(3, &got); err != nil || len(got.Data) != 0 {
		t.Fatalf("empty entry: %q, %v", got.Data, err)
	}
	// Move entry 1's ciphertext to index 2.
	var two raft.Log
	inner.GetLog(2, &two)
	two.Data = raw.Data
	inner.StoreLog(&two)
	if err := s.GetLog(2, &got); err == nil {
		t.Fatal("a ciphertext moved to another index was accepted")
	}
}

// TestSealedSnapshots: a snapshot reads back; one altered on disk fails
// at Open; the metadata is sealed too; old ones are reaped.
func TestSealedSnapshots(t *testing.T) {
	dir := t.TempDir()
	s, err := newSealedSnapshots(dir, 2, seal.NewKeyring(seal.Key{7}, nil), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	state := bytes.Repeat([]byte(secretValue), 20000)
	conf := raft.Configuration{Servers: []raft.Server{{ID: "node-secret-id", Address: "10.1.2.3:2377"}}}
	var ids []string
	for i := uint64(1); i <= 3; i++ {
		sink, err := s.Create(1, 10*i, 1, conf, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write(state); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sink.ID())
	}
	// A cancelled one leaves nothing behind.
	sink, _ := s.Create(1, 99, 1, conf, 1, nil)
	sink.Write([]byte("partial"))
	sink.Cancel()

	metas, err := s.List()
	if err != nil || len(metas) != 2 || metas[0].ID != ids[2] || metas[1].ID != ids[1] {
		t.Fatalf("List = %v, %v; want the newest two of %v", metas, err, ids)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("%d entries in the snapshot dir, want 2 (reaped, cancelled removed)", len(ents))
	}
	grepDir(t, dir, secretValue, "node-secret-id", "10.1.2.3")
	m, rc, err := s.Open(ids[2])
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, state) || m.Size != int64(len(state)) || m.Configuration.Servers[0].ID != "node-secret-id" {
		t.Fatalf("read back %d bytes (size %d), err %v", len(got), m.Size, err)
	}
	p := filepath.Join(dir, ids[2], snapStateFile)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o600)
	if _, _, err := s.Open(ids[2]); err == nil {
		t.Fatal("an altered snapshot opened")
	}
}

// The cost of encryption on writes: one 1 KiB entry per StoreLogs (a
// commit, fsync included), through the sealed store and straight to bolt;
// and the sealing alone.
func benchStoreLogs(b *testing.B, sealed bool) {
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(b.TempDir(), "raft.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer bolt.Close()
	var s raft.LogStore = bolt
	if sealed {
		s = &sealedLogs{inner: bolt, ring: seal.NewKeyring(seal.Key{1}, nil)}
	}
	data := bytes.Repeat([]byte(`{"Name":"web","Env":["K=V"]}`), 1024/28)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.StoreLogs([]*raft.Log{{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreLogsSealed(b *testing.B) { benchStoreLogs(b, true) }
func BenchmarkStoreLogsPlain(b *testing.B)  { benchStoreLogs(b, false) }

func BenchmarkSealLog(b *testing.B) {
	s := &sealedLogs{ring: seal.NewKeyring(seal.Key{1}, nil)}
	l := &raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: make([]byte, 1024)}
	b.SetBytes(1024)
	for i := 0; i < b.N; i++ {
		s.sealLog(l)
	}
}

// TestSnapshotInstall: a follower that joins after the log was compacted
// is sent the leader's (decrypted) snapshot and stores it sealed with its
// own key.
func TestSnapshotInstall(t *testing.T) {
	testTrailingLogs = 1
	defer func() { testTrailingLogs = 0 }()
	dir1, addr1 := t.TempDir(), freeAddr(t)
	n1, _ := openWith(t, dir1, addr1, true, seal.NewKeyring(seal.Key{1}, nil))
	defer n1.Close()
	for i := 1; i <= 5; i++ {
		createSecretService(t, n1, i)
	}
	if err := n1.Snapshot(); err != nil {
		t.Fatal(err)
	}
	dir2, addr2 := t.TempDir(), freeAddr(t)
	st2 := store.New()
	n2, err := Open(Config{Dir: dir2, NodeID: "n2", BindAddr: addr2, AdvertiseAddr: addr2,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
		Keys: seal.NewKeyring(seal.Key{2}, nil)}, st2)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n1.AddVoter(ctx, "n2", addr2); err != nil {
		t.Fatal(err)
	}
	for len(st2.View().Services()) < 5 {
		if ctx.Err() != nil {
			t.Fatalf("the follower has %d services", len(st2.View().Services()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	snaps, err := os.ReadDir(filepath.Join(dir2, "snapshots"))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("the follower stored no snapshot: %v", err)
	}
	grepDir(t, dir2, secretName, secretValue)
}
