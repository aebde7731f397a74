package consensus

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"sw/cluster/seal"
	"sw/cluster/store"
	"sw/cluster/types"
)

// writeSnapshotFiles installs sealed snapshot files under a Raft dir.
func writeSnapshotFiles(t *testing.T, dir string, f *SnapshotFiles) {
	t.Helper()
	for name, data := range map[string][]byte{f.MetaName(): f.Meta, f.StateName(): f.State} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if !IsSnapshotFile(name) {
			t.Fatalf("%s is not a snapshot file name", name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBackupRestoreSnapshot: a fresh snapshot of a running node, sealed
// with the data key, installed alone in a new dir, starts a single-voter
// cluster there with the whole state (entries written after the last
// automatic snapshot included), a term not behind the snapshot's, taking
// writes, and it survives a restart.
func TestBackupRestoreSnapshot(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	n, _ := open(t, dir, addr, true)
	for i := 0; i < 3; i++ {
		createSecretService(t, n, i)
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	createSecretService(t, n, 3) // in the log only
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := n.FreshSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Index == 0 || snap.Term == 0 || len(snap.State) == 0 {
		t.Fatalf("fresh snapshot %+v", snap.SnapshotInfo)
	}
	// Nothing new since but the leader's barrier: the same services.
	again, err := n.FreshSnapshot(ctx)
	if err != nil || again.Index < snap.Index {
		t.Fatalf("second snapshot: %v, %v", again.SnapshotInfo, err)
	}
	n.Close()

	key := seal.Key{7, 7}
	files, err := snap.Seal(key)
	if err != nil {
		t.Fatal(err)
	}
	grepBytes(t, files.Meta, secretName, addr) // the configuration's address: long enough not to turn up in ciphertext by chance
	grepBytes(t, files.State, secretName, secretValue)
	keys := seal.NewKeyring(key, nil)

	restored := t.TempDir()
	writeSnapshotFiles(t, restored, files)
	info, st, err := LoadSnapshot(restored, keys)
	if err != nil || info.Index != snap.Index || len(st.View().Services()) != 4 {
		t.Fatalf("LoadSnapshot = %+v, %v", info, err)
	}
	if _, _, err := LoadSnapshot(restored, seal.NewKeyring(seal.Key{8}, nil)); !errors.Is(err, ErrDamaged) {
		t.Fatalf("LoadSnapshot with another key: %v", err)
	}
	// Without FromSnapshot a dir holding only a snapshot is refused.
	addr2 := freeAddr(t)
	cfg := Config{Dir: restored, NodeID: "n1", BindAddr: addr2, AdvertiseAddr: addr2, RequireState: true,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, Keys: keys}
	if _, err := Open(cfg, store.New()); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a snapshot without raft.db, not FromSnapshot: %v", err)
	}
	os.Remove(filepath.Join(restored, dbFile))
	cfg.ForceNewCluster, cfg.FromSnapshot = true, true
	st2 := store.New()
	n2, err := Open(cfg, st2)
	if err != nil {
		t.Fatal(err)
	}
	waitLead(t, n2)
	if got := len(st2.View().Services()); got != 4 {
		t.Fatalf("restored node holds %d services", got)
	}
	servers, err := n2.Servers()
	if err != nil || len(servers) != 1 || servers[0].ID != "n1" || servers[0].Addr != addr2 {
		t.Fatalf("servers after restore: %+v, %v", servers, err)
	}
	if term := n2.raft.CurrentTerm(); term <= snap.Term {
		t.Fatalf("term %d after restoring a snapshot of term %d", term, snap.Term)
	}
	svc := &types.Service{ID: "after", Spec: types.ServiceSpec{Name: "after-restore"}}
	if err := n2.Propose(ctx, &store.Command{Changes: []store.Change{{CreateService: svc}}}); err != nil {
		t.Fatal(err)
	}
	n2.Close()
	cfg.ForceNewCluster, cfg.FromSnapshot = false, false
	st3 := store.New()
	n3, err := Open(cfg, st3)
	if err != nil {
		t.Fatal(err)
	}
	defer n3.Close()
	for len(st3.View().Services()) != 5 {
		if ctx.Err() != nil {
			t.Fatalf("after a restart the restored node holds %d services", len(st3.View().Services()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	var l raft.Log
	if last, _ := n3.sealed.LastIndex(); last <= snap.Index || n3.sealed.GetLog(last, &l) != nil || l.Term <= snap.Term {
		t.Fatalf("log after restore: last %d (snapshot %d), term %d", last, snap.Index, l.Term)
	}
}

func grepBytes(t *testing.T, b []byte, needles ...string) {
	t.Helper()
	for _, s := range needles {
		if containsBytes(b, s) {
			t.Errorf("sealed snapshot file holds %q in the clear", s)
		}
	}
}

func containsBytes(b []byte, s string) bool {
	return len(s) > 0 && len(b) >= len(s) && string(b) != "" && indexOf(b, s) >= 0
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}
