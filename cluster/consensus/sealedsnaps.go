package consensus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"sw/cluster/seal"
)

// sealedSnapshots is a raft.SnapshotStore whose snapshots are encrypted
// with the manager's data key: each is a directory <dir>/<id>/ holding
// "meta" (the raft.SnapshotMeta as JSON, sealed) and "state" (the FSM's
// snapshot as a sealed stream). It is written in <id>.tmp and renamed
// into place when complete; the newest `retain` are kept.
type sealedSnapshots struct {
	dir    string
	retain int
	ring   *seal.Keyring
	log    hclog.Logger
	// mu is held shared by each sink from Create to Close or Cancel, and
	// exclusively by reencrypt, which thus waits for snapshots in flight.
	mu sync.RWMutex
}

var _ raft.SnapshotStore = (*sealedSnapshots)(nil)

const (
	snapMetaFile  = "meta"
	snapStateFile = "state"
	snapTmpSuffix = ".tmp"
)

func newSealedSnapshots(dir string, retain int, ring *seal.Keyring, log hclog.Logger) (*sealedSnapshots, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Half-written snapshots of an earlier run are of no use.
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), snapTmpSuffix) {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	return &sealedSnapshots{dir: dir, retain: retain, ring: ring, log: log}, nil
}

func metaAD(id string) []byte { return []byte("sw snapshot meta\x00" + id) }

// Create starts a snapshot; the sink seals what Raft writes to it.
func (s *sealedSnapshots) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	if version != 1 {
		return nil, fmt.Errorf("consensus: unsupported snapshot version %d", version)
	}
	s.mu.RLock()
	id := fmt.Sprintf("%d-%d-%d", term, index, time.Now().UnixMilli())
	tmp := filepath.Join(s.dir, id+snapTmpSuffix)
	fail := func(err error) (raft.SnapshotSink, error) {
		_ = os.RemoveAll(tmp)
		s.mu.RUnlock()
		return nil, fmt.Errorf("consensus: create snapshot: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fail(err)
	}
	f, err := os.OpenFile(filepath.Join(tmp, snapStateFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fail(err)
	}
	w, err := seal.NewWriter(f, s.ring.Current())
	if err != nil {
		f.Close()
		return fail(err)
	}
	return &sealedSink{store: s, tmp: tmp, file: f, w: w, meta: raft.SnapshotMeta{
		Version: version, ID: id, Index: index, Term: term,
		Configuration: configuration, ConfigurationIndex: configurationIndex,
	}}, nil
}

// List returns the snapshots, newest first. A snapshot whose metadata does
// not open is an error, not skipped: starting without it would silently
// lose the state it holds.
func (s *sealedSnapshots) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.all()
	if err != nil {
		return nil, err
	}
	if len(metas) > s.retain {
		metas = metas[:s.retain]
	}
	return metas, nil
}

func (s *sealedSnapshots) all() ([]*raft.SnapshotMeta, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []*raft.SnapshotMeta
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), snapTmpSuffix) {
			continue
		}
		m, err := s.readMeta(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	return out, nil
}

func (s *sealedSnapshots) readMeta(id string) (*raft.SnapshotMeta, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, id, snapMetaFile))
	if err != nil {
		return nil, fmt.Errorf("consensus: snapshot %s: %w", id, err)
	}
	plain, err := s.ring.Open(b, metaAD(id))
	if err != nil {
		return nil, fmt.Errorf("consensus: snapshot %s metadata: %w", id, err)
	}
	var m raft.SnapshotMeta
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, fmt.Errorf("consensus: snapshot %s metadata: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("consensus: snapshot %s metadata names %s", id, m.ID)
	}
	return &m, nil
}

// Open checks the whole snapshot first (every chunk authenticated, none
// missing), so that a damaged one fails here and Raft can fall back to an
// older one, then returns a reader of its plain state.
func (s *sealedSnapshots) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	m, err := s.readMeta(id)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(filepath.Join(s.dir, id, snapStateFile))
	if err != nil {
		return nil, nil, err
	}
	keys := s.ring.Keys()
	r, err := seal.NewReader(f, keys...)
	if err == nil {
		var n int64
		if n, err = io.Copy(io.Discard, r); err == nil && n != m.Size {
			err = fmt.Errorf("size %d, metadata says %d", n, m.Size)
		}
	}
	if err == nil {
		if _, err = f.Seek(0, io.SeekStart); err == nil {
			r, err = seal.NewReader(f, keys...)
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("consensus: snapshot %s: %w", id, err)
	}
	return m, readCloser{Reader: r, Closer: f}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// reap removes the snapshots beyond the newest `retain`.
func (s *sealedSnapshots) reap() error {
	metas, err := s.all()
	if err != nil {
		return err
	}
	for _, m := range metas[min(s.retain, len(metas)):] {
		// Renamed out of the way first: RemoveAll is not atomic, and a
		// crash in the middle must not leave a snapshot without its meta
		// (a start would take it for damage). Left-over .tmp dirs are
		// removed at start.
		dir := filepath.Join(s.dir, m.ID)
		if err := os.Rename(dir, dir+snapTmpSuffix); err != nil {
			return err
		}
		if err := os.RemoveAll(dir + snapTmpSuffix); err != nil {
			return err
		}
	}
	return nil
}

// reencrypt rewrites every snapshot with the keyring's current key, after
// any snapshot being written is done.
func (s *sealedSnapshots) reencrypt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	metas, err := s.all()
	if err != nil {
		return err
	}
	for _, m := range metas {
		if err := s.reencryptOne(m); err != nil {
			return fmt.Errorf("consensus: re-encrypting snapshot %s: %w", m.ID, err)
		}
	}
	return nil
}

func (s *sealedSnapshots) reencryptOne(m *raft.SnapshotMeta) error {
	dir := filepath.Join(s.dir, m.ID)
	in, err := os.Open(filepath.Join(dir, snapStateFile))
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := seal.NewReader(in, s.ring.Keys()...)
	if err != nil {
		return err
	}
	next := filepath.Join(dir, snapStateFile+".new")
	out, err := os.OpenFile(next, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(next)
	w, err := seal.NewWriter(out, s.ring.Current())
	if err == nil {
		_, err = io.Copy(w, r)
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Until both renames are done the snapshot is half old key, half new:
	// the keyring keeps both until reencrypt returns.
	if err := os.Rename(next, filepath.Join(dir, snapStateFile)); err != nil {
		return err
	}
	return writeMeta(dir, m, s.ring) // syncs dir, both renames with it
}

func writeMeta(dir string, m *raft.SnapshotMeta, ring *seal.Keyring) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeFileSync(filepath.Join(dir, snapMetaFile), ring.Seal(b, metaAD(m.ID)))
}

// writeFileSync writes a file through a temporary one, synced, renamed.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	// The rename must be on disk before anything relies on it (the key
	// file dropping the old data key after a re-encryption).
	syncDir(filepath.Dir(path))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// sealedSink is a snapshot being written.
type sealedSink struct {
	store *sealedSnapshots
	tmp   string
	file  *os.File
	w     *seal.Writer
	meta  raft.SnapshotMeta
	done  bool
}

func (k *sealedSink) ID() string                  { return k.meta.ID }
func (k *sealedSink) Write(p []byte) (int, error) { return k.w.Write(p) }

// Close completes the snapshot: the last chunk, the metadata, the rename
// into place, then the reaping of old snapshots.
func (k *sealedSink) Close() error {
	if k.done {
		return nil
	}
	k.done = true
	defer k.store.mu.RUnlock()
	err := k.w.Close()
	if err == nil {
		err = k.file.Sync()
	}
	if cerr := k.file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		k.meta.Size = k.w.Plain()
		err = writeMeta(k.tmp, &k.meta, k.store.ring)
	}
	final := filepath.Join(k.store.dir, k.meta.ID)
	if err == nil {
		err = os.Rename(k.tmp, final)
	}
	if err != nil {
		_ = os.RemoveAll(k.tmp)
		return fmt.Errorf("consensus: write snapshot: %w", err)
	}
	syncDir(k.store.dir)
	if err := k.store.reap(); err != nil {
		k.store.log.Warn("reaping old snapshots failed", "error", err)
	}
	return nil
}

// Cancel abandons the snapshot.
func (k *sealedSink) Cancel() error {
	if k.done {
		return nil
	}
	k.done = true
	defer k.store.mu.RUnlock()
	_ = k.file.Close()
	return os.RemoveAll(k.tmp)
}

// errNoKeys is returned by Open without a keyring.
var errNoKeys = errors.New("consensus: no data key: Raft data is always encrypted at rest")
