package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"sw/cluster/seal"
	"sw/cluster/store"
)

// pristine makes the Raft data dir of a manager that wrote `before`
// services, took a snapshot (if snapshot), then wrote `after` more; it
// returns the dir (closed) and the number of services it holds.
func pristine(t *testing.T, snapshot bool, before, after int) (string, int) {
	t.Helper()
	dir, addr := t.TempDir(), freeAddr(t)
	n, _ := open(t, dir, addr, true)
	for i := 0; i < before; i++ {
		createSecretService(t, n, i)
	}
	if snapshot {
		if err := n.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	for i := before; i < before+after; i++ {
		createSecretService(t, n, i)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, before + after
}

// copyDir copies a data dir to a new temporary one.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// openDamaged opens dir as a restarting manager does (RequireState).
func openDamaged(t *testing.T, dir string, keys *seal.Keyring) (*Node, *store.Store, error) {
	t.Helper()
	addr := freeAddr(t)
	st := store.New()
	n, err := Open(Config{Dir: dir, NodeID: "n1", BindAddr: addr, AdvertiseAddr: addr, RequireState: true,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, Keys: keys}, st)
	return n, st, err
}

// replay rebuilds the state held in dir (newest snapshot, then the log
// after it) without Raft, to compare with what was written.
func replay(t *testing.T, dir string, keys *seal.Keyring) *store.Store {
	t.Helper()
	st := store.New()
	fsm := &store.FSM{Store: st}
	snaps := &sealedSnapshots{dir: filepath.Join(dir, "snapshots"), retain: 2, ring: keys, log: hclog.NewNullLogger()}
	var from uint64
	if metas, err := snaps.List(); err == nil && len(metas) > 0 {
		_, rc, err := snaps.Open(metas[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := fsm.Restore(rc); err != nil {
			t.Fatal(err)
		}
		from = metas[0].Index
	}
	b, err := openBolt(filepath.Join(dir, dbFile), true)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	logs := &sealedLogs{inner: b, ring: keys}
	last, _ := logs.LastIndex()
	for i := from + 1; i <= last; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			t.Fatalf("replay: entry %d: %v", i, err)
		}
		fsm.Apply(&l)
	}
	return st
}

// flip inverts one byte of a file.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// logValueOffset finds where log entry i's stored value sits in raft.db,
// and the database's page size.
func logValueOffset(t *testing.T, dir string, i uint64) (off, size int64, pageSize int) {
	t.Helper()
	path := filepath.Join(dir, dbFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	// The value Get returns is the live copy, in bbolt's memory map of the
	// file: its address there is its offset in the file (a freed page may
	// still hold an older copy elsewhere).
	var at, n int64
	db.View(func(tx *bolt.Tx) error {
		k := binary.BigEndian.AppendUint64(nil, i)
		if val := tx.Bucket([]byte("logs")).Get(k); len(val) > 0 {
			at, n = int64(uintptr(unsafe.Pointer(&val[0]))-db.Info().Data), int64(len(val))
		}
		return nil
	})
	pageSize = db.Info().PageSize
	db.Close()
	if n == 0 {
		t.Fatalf("entry %d is not in raft.db", i)
	}
	return at, n, pageSize
}

func newestSnapshot(t *testing.T, dir string) string {
	t.Helper()
	ids, err := snapshotDirs(filepath.Join(dir, "snapshots"))
	if err != nil || len(ids) != 1 {
		t.Fatalf("snapshots: %v, %v", ids, err)
	}
	return filepath.Join(dir, "snapshots", ids[0])
}

// expectStateError checks err is a *StateError of kind that names dir.
func expectStateError(t *testing.T, err error, dir string, kind error) {
	t.Helper()
	var se *StateError
	switch {
	case err == nil:
		t.Fatal("the damaged data was accepted")
	case !errors.As(err, &se) || !errors.Is(err, kind):
		t.Fatalf("error %q (%T) is not a StateError of kind %v", err, err, kind)
	case !strings.Contains(err.Error(), dir):
		t.Fatalf("error %q does not name the data dir %s", err, dir)
	}
}

// TestDamagedState: each kind of damage from issue 8 (raft.db cut in
// half, emptied, deleted; a byte flipped at many places of a log page;
// snapshots damaged) makes Open fail with an error naming the data dir,
// never a panic, and never a node started with an empty state.
func TestDamagedState(t *testing.T) {
	withSnap, _ := pristine(t, true, 4, 4)
	noSnap, _ := pristine(t, false, 6, 0)
	db := func(dir string) string { return filepath.Join(dir, dbFile) }
	truncate := func(frac float64) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			fi, _ := os.Stat(db(dir))
			if err := os.Truncate(db(dir), int64(float64(fi.Size())*frac)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// cutToUsed truncates the file to the size the database says it uses:
	// what goes is space bbolt had grown the file by and not yet used.
	// (A fixed fraction would depend on the entries' encoded size.)
	cutToUsed := func(t *testing.T, dir string) {
		bdb, err := bolt.Open(db(dir), 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var used int64
		err = bdb.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
		bdb.Close()
		fi, _ := os.Stat(db(dir))
		if err != nil || used >= fi.Size() {
			t.Fatalf("the database uses %d of its %d bytes (%v): nothing unused to cut", used, fi.Size(), err)
		}
		if err := os.Truncate(db(dir), used); err != nil {
			t.Fatal(err)
		}
	}
	// flipLog flips a byte of entry 6's page: rel bytes from the start
	// of its stored value (negative: before it, in the page's headers).
	flipLog := func(rel int64) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			off, _, _ := logValueOffset(t, dir, 6)
			flip(t, db(dir), off+rel)
		}
	}
	flipLogEnd := func(t *testing.T, dir string) {
		off, size, _ := logValueOffset(t, dir, 6)
		flip(t, db(dir), off+size-1)
	}
	// flipField flips the first byte after a field's name in entry 6's
	// msgpack value: the field's value (or its type and length).
	flipField := func(name string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			off, size, _ := logValueOffset(t, dir, 6)
			file, _ := os.ReadFile(db(dir))
			at := bytes.Index(file[off:off+size], []byte(name))
			if at < 0 {
				t.Fatalf("no field %s in the entry", name)
			}
			flip(t, db(dir), off+int64(at+len(name)))
		}
	}
	cutShort := func(t *testing.T, dir string) {
		b, err := bolt.Open(db(dir), 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var used int64
		b.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
		ps := b.Info().PageSize
		b.Close()
		if err := os.Truncate(db(dir), used-int64(ps)); err != nil {
			t.Fatal(err)
		}
	}
	flipPageHeader := func(rel int64) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			off, _, ps := logValueOffset(t, dir, 6)
			flip(t, db(dir), off/int64(ps)*int64(ps)+rel)
		}
	}
	editBolt := func(f func(tx *bolt.Tx) error) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			b, err := bolt.Open(db(dir), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if err := b.Update(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	deleteEntries := func(from, to uint64) func(*testing.T, string) {
		return editBolt(func(tx *bolt.Tx) error {
			for i := from; i <= to; i++ {
				if err := tx.Bucket([]byte("logs")).Delete(binary.BigEndian.AppendUint64(nil, i)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	snapFile := func(name string, f func(t *testing.T, path string)) func(*testing.T, string) {
		return func(t *testing.T, dir string) { f(t, filepath.Join(newestSnapshot(t, dir), name)) }
	}
	cases := []struct {
		name   string
		from   string
		damage func(*testing.T, string)
		keys   *seal.Keyring
		kind   error // nil: harmless damage, the state opens intact
	}{
		{"raft.db cut in half", withSnap, truncate(0.5), nil, ErrDamaged},
		{"raft.db cut one page short of its end", noSnap, cutShort, nil, ErrDamaged},
		{"raft.db cut to the size it uses: only unused space lost", noSnap, cutToUsed, nil, nil},
		{"raft.db cut to 3 pages", noSnap, func(t *testing.T, dir string) { os.Truncate(db(dir), 3*4096) }, nil, ErrDamaged},
		{"raft.db cut to 100 bytes", noSnap, func(t *testing.T, dir string) { os.Truncate(db(dir), 100) }, nil, ErrDamaged},
		{"raft.db emptied, no snapshot", noSnap, truncate(0), nil, ErrNoState},
		{"raft.db emptied, snapshot kept", withSnap, truncate(0), nil, ErrDamaged},
		{"raft.db deleted, no snapshot", noSnap, func(t *testing.T, dir string) { os.Remove(db(dir)) }, nil, ErrNoState},
		{"raft.db deleted, snapshot kept", withSnap, func(t *testing.T, dir string) { os.Remove(db(dir)) }, nil, ErrDamaged},
		{"everything deleted", withSnap, func(t *testing.T, dir string) {
			os.Remove(db(dir))
			os.RemoveAll(filepath.Join(dir, "snapshots"))
		}, nil, ErrNoState},
		{"raft.db replaced by random bytes", noSnap, func(t *testing.T, dir string) {
			b := bytes.Repeat([]byte("not a database "), 4096)
			os.WriteFile(db(dir), b, 0o600)
		}, nil, ErrDamaged},
		{"log value: first byte flipped", withSnap, flipLog(0), nil, ErrDamaged},
		{"log value: Data's length flipped", withSnap, flipField("Data"), nil, ErrDamaged},
		{"log value: Index flipped", withSnap, flipField("Index"), nil, ErrDamaged},
		{"log value: Term flipped", withSnap, flipField("Term"), nil, ErrDamaged},
		{"log value: Type flipped", withSnap, flipField("Type"), nil, ErrDamaged},
		{"log value: a name flipped (AppendedAt, unused: harmless)", withSnap, flipLog(5), nil, nil},
		{"log value: byte 40 flipped", withSnap, flipLog(40), nil, ErrDamaged},
		{"log value: byte 100 flipped", withSnap, flipLog(100), nil, ErrDamaged},
		{"log value: last byte flipped", withSnap, flipLogEnd, nil, ErrDamaged},
		{"log page: element header flipped", withSnap, flipLog(-20), nil, ErrDamaged},
		{"log page: page id flipped", withSnap, flipPageHeader(0), nil, ErrDamaged},
		{"log page: flags flipped", withSnap, flipPageHeader(8), nil, ErrDamaged},
		{"log page: count flipped", withSnap, flipPageHeader(10), nil, ErrDamaged},
		{"log page: first element flipped", withSnap, flipPageHeader(16), nil, ErrDamaged},
		{"a log entry missing", withSnap, deleteEntries(7, 7), nil, ErrDamaged},
		{"the log's start missing, no snapshot", noSnap, deleteEntries(1, 2), nil, ErrDamaged},
		{"current term damaged", withSnap, editBolt(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("conf")).Put([]byte("CurrentTerm"), []byte{1, 2, 3})
		}), nil, ErrDamaged},
		{"logs bucket missing", withSnap, editBolt(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("logs")) }), nil, ErrDamaged},
		{"snapshot state: byte flipped", withSnap, snapFile(snapStateFile, func(t *testing.T, p string) { flip(t, p, 100) }), nil, ErrDamaged},
		{"snapshot state: cut in half", withSnap, snapFile(snapStateFile, func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()/2)
		}), nil, ErrDamaged},
		{"snapshot state: deleted", withSnap, snapFile(snapStateFile, func(t *testing.T, p string) { os.Remove(p) }), nil, ErrDamaged},
		{"snapshot meta: byte flipped", withSnap, snapFile(snapMetaFile, func(t *testing.T, p string) { flip(t, p, 20) }), nil, ErrDamaged},
		{"snapshot meta: emptied", withSnap, snapFile(snapMetaFile, func(t *testing.T, p string) { os.Truncate(p, 0) }), nil, ErrDamaged},
		{"another data key", withSnap, func(*testing.T, string) {}, seal.NewKeyring(seal.Key{42}, nil), ErrDamaged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, c.from)
			c.damage(t, dir)
			keys := c.keys
			if keys == nil {
				keys = testKeys
			}
			n, _, err := openDamaged(t, dir, keys)
			if err == nil {
				n.Close()
			}
			if c.kind == nil {
				if err != nil {
					t.Fatalf("harmless damage refused: %v", err)
				}
				if got, want := len(replay(t, dir, keys).View().Services()), len(replay(t, c.from, keys).View().Services()); got != want {
					t.Fatalf("opened with %d services of %d", got, want)
				}
				return
			}
			expectStateError(t, err, dir, c.kind)
			t.Log(err)
			// A locked manager's check (no keys) finds what it can.
			if _, err := Check(dir, nil); err != nil {
				expectStateError(t, err, dir, ErrDamaged)
			}
		})
	}
	// And the pristine dirs open, with their state.
	for _, dir := range []string{withSnap, noSnap} {
		n, _, err := openDamaged(t, copyDir(t, dir), testKeys)
		if err != nil {
			t.Fatalf("an undamaged dir: %v", err)
		}
		n.Close()
	}
}

// TestDamageEveryOffset flips one byte at a time, every 97th byte of
// raft.db (at most 700; see strideVar) and every 89th of the snapshot's
// files, and opens the result:
// each either fails with an error naming the data dir or opens with the
// state intact (a byte no one reads: free space, padding). None panics
// (a panic, or a fault in bbolt's memory map, would end the test binary).
func TestDamageEveryOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a few hundred data dirs")
	}
	src, want := pristine(t, true, 5, 5)
	snap := newestSnapshot(t, src)
	rel := func(p string) string { r, _ := filepath.Rel(src, p); return r }
	type target struct {
		file   string
		stride int64
	}
	targets := []target{{dbFile, strideEnv()}, {rel(filepath.Join(snap, snapStateFile)), 89}, {rel(filepath.Join(snap, snapMetaFile)), 89}}
	maxPerFile := 700
	if os.Getenv(strideVar) != "" {
		maxPerFile = 1 << 30
	}
	var tried, refused, intact, olderMeta int
	for _, tg := range targets {
		fi, err := os.Stat(filepath.Join(src, tg.file))
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for off := int64(0); off < fi.Size() && k < maxPerFile; off, k = off+tg.stride, k+1 {
			dir := copyDir(t, src)
			flip(t, filepath.Join(dir, tg.file), off)
			tried++
			// Check first: Open's first commit rewrites a meta page.
			res, cerr := Check(dir, testKeys)
			n, _, err := openDamaged(t, dir, testKeys)
			if err != nil {
				if !strings.Contains(err.Error(), dir) || !(errors.Is(err, ErrDamaged) || errors.Is(err, ErrNoState)) {
					t.Errorf("%s byte %d: error %q does not name the data dir as damaged", tg.file, off, err)
				}
				refused++
				os.RemoveAll(dir)
				continue
			}
			n.Close()
			// A damaged meta page looks like a crash in the middle of a
			// commit: bbolt reads the file as of the other one, a
			// transaction older, and Check warns.
			got := len(replay(t, dir, testKeys).View().Services())
			metaWarned := cerr == nil && len(res.Warnings) > 0 && off < 2*int64(os.Getpagesize())
			if got != want && !(metaWarned && got == want-1) {
				t.Errorf("%s byte %d: opened without error, but holds %d services of %d", tg.file, off, got, want)
			}
			if metaWarned {
				olderMeta++
			}
			intact++
			os.RemoveAll(dir)
		}
	}
	t.Logf("%d single-byte damages tried: %d refused with an error, %d opened intact (%d of them from the older meta page, with a warning), no panic",
		tried, refused, intact, olderMeta)
}

// TestCheckReportsState: Check on a healthy dir reports its log, term and
// snapshot, and changes nothing; on a fresh dir it reports no state.
func TestCheckReportsState(t *testing.T) {
	dir, _ := pristine(t, true, 3, 2)
	before := dirDigest(t, dir)
	res, err := Check(dir, testKeys)
	if err != nil {
		t.Fatal(err)
	}
	if !res.HasState || res.LastIndex == 0 || res.Term == 0 || res.Snapshot == nil || res.Snapshot.Index == 0 ||
		res.Snapshot.Index >= res.LastIndex {
		t.Fatalf("Check = %+v, snapshot %+v", res, res.Snapshot)
	}
	if locked, err := Check(dir, nil); err != nil || !locked.HasState || locked.LastIndex != res.LastIndex {
		t.Fatalf("Check without keys = %+v, %v", locked, err)
	}
	if after := dirDigest(t, dir); after != before {
		t.Fatal("Check changed the data dir")
	}
	empty := t.TempDir()
	if res, err := Check(empty, testKeys); err != nil || res.HasState {
		t.Fatalf("Check of an empty dir = %+v, %v", res, err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("Check created files in an empty dir: %v", ents)
	}
	// Bootstrapping a fresh dir is not refused: RequireState is for
	// managers resuming a swarm.
	n, _ := open(t, t.TempDir(), freeAddr(t), true)
	n.Close()
}

func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, _ := os.Open(p)
		defer f.Close()
		data, _ := io.ReadAll(f)
		fmt.Fprintf(&b, "%s %x\n", p, data)
		return nil
	})
	return b.String()
}

// strideVar sets TestDamageEveryOffset's stride in raft.db (and lifts its
// bound) for a denser run: SW_TEST_DAMAGE_STRIDE=5 tries every 5th byte.
const strideVar = "SW_TEST_DAMAGE_STRIDE"

func strideEnv() int64 {
	if s := os.Getenv(strideVar); s != "" {
		var n int64
		fmt.Sscan(s, &n)
		return n
	}
	return 97
}
