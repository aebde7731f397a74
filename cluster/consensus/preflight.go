package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"sw/cluster/seal"
	"sw/cluster/store"
)

// The preflight check: before Raft starts on a manager's existing data,
// everything Raft will read is read once here, so that damage shows as an
// error naming the file and what is wrong — never as a panic deep inside
// bbolt or hashicorp/raft (which panic on a damaged page, a missing log
// entry or an entry that does not decode), and never as a node that
// starts with an empty state because its log vanished. raft.db's
// structure is checked in a child process (boltcheck.go); every read here
// is guarded: it runs in a goroutine that turns memory faults into panics
// and recovers them into errors.

// ErrNoState is a manager's Raft data dir without any state: no log and
// no snapshot (raft.db missing or empty). A manager that was in a swarm
// must not start from it: it would come up as an empty swarm.
var ErrNoState = errors.New("no Raft state")

// ErrDamaged is Raft data that cannot be read back whole.
var ErrDamaged = errors.New("damaged Raft data")

// StateError says what is wrong with a manager's Raft data: the data dir,
// the file at fault in it, and the problem. It wraps ErrNoState or
// ErrDamaged, and the underlying error if there is one.
type StateError struct {
	// Dir is the Raft data dir (Config.Dir).
	Dir string
	// File is the file or directory at fault, relative to Dir.
	File string
	// Problem says what is wrong, for people.
	Problem string
	// Kind is ErrNoState or ErrDamaged.
	Kind error
	// Err is the underlying error, if any.
	Err error
}

// Error says where the data is, the file, and what is wrong with it.
func (e *StateError) Error() string {
	var b strings.Builder
	if errors.Is(e.Kind, ErrNoState) {
		fmt.Fprintf(&b, "no Raft state in %s", e.Dir)
	} else {
		fmt.Fprintf(&b, "damaged Raft data in %s", e.Dir)
	}
	if e.File != "" {
		fmt.Fprintf(&b, ": %s", e.File)
	}
	if e.Problem != "" {
		fmt.Fprintf(&b, ": %s", e.Problem)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %s", strings.ReplaceAll(e.Err.Error(), "consensus: ", ""))
	}
	return b.String()
}

// Unwrap returns the kind and the underlying error.
func (e *StateError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// CheckResult is what the preflight check found.
type CheckResult struct {
	// HasState is raft.HasExistingState: a term, a log entry or a
	// snapshot.
	HasState bool
	// FirstIndex and LastIndex bound the log (0 when it is empty).
	FirstIndex, LastIndex uint64
	// Term is the stored current term (0 if none).
	Term uint64
	// Snapshot is the newest snapshot, nil if there is none.
	Snapshot *SnapshotInfo
	// Warnings are oddities that are not damage (see metaWarnings).
	Warnings []string
}

// SnapshotInfo describes a stored snapshot.
type SnapshotInfo struct {
	ID          string
	Index, Term uint64
	// Size is the plain size of its state.
	Size int64
}

const dbFile = "raft.db"

// boltOpenTimeout bounds the wait for raft.db's file lock (another
// daemon on the same data dir, or a handle left by a panic).
const boltOpenTimeout = 5 * time.Second

// Check reads a manager's Raft data in dir the way Raft would at start,
// without starting it: raft.db's structure (bbolt's consistency check),
// the stable store's term and vote, every log entry from the first to the
// last (present, decrypted, decoded), the snapshots' metadata and the
// newest snapshot's state. keys may be nil (a locked manager): then what
// is encrypted is checked for presence and shape only. A missing or
// empty state is not an error here (see CheckResult.HasState).
func Check(dir string, keys *seal.Keyring) (*CheckResult, error) {
	st, res, err := preflight(dir, preflightOptions{keys: keys, log: hclog.NewNullLogger()})
	if err != nil {
		return nil, err
	}
	st.close()
	return res, nil
}

// openedState is the Raft data, checked and open for Raft.
type openedState struct {
	bolt   *raftboltdb.BoltStore // nil when keys were not given
	sealed *sealedLogs
	snaps  *sealedSnapshots
}

func (o *openedState) close() {
	if o != nil && o.bolt != nil {
		_ = closeBolt(o.bolt)
	}
}

func closeBolt(b *raftboltdb.BoltStore) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("closing raft.db: %v", v)
		}
	}()
	return b.Close()
}

// preflightOptions say what preflight checks and opens.
type preflightOptions struct {
	// keys open the encrypted data; nil checks without decrypting.
	keys *seal.Keyring
	log  hclog.Logger
	// snapshotOnly accepts a dir holding snapshots but no raft.db (a
	// backup being restored).
	snapshotOnly bool
	// forRaft leaves the stores open for Raft (keys required), creating
	// what is missing; otherwise nothing is created or left open.
	forRaft bool
	// requireState refuses a dir without state (ErrNoState) before
	// anything is created in it.
	requireState bool
}

// preflight checks dir and, for Raft, opens its stores.
func preflight(dir string, opt preflightOptions) (*openedState, *CheckResult, error) {
	keys, log, snapshotOnly := opt.keys, opt.log, opt.snapshotOnly
	damaged := func(file, problem string, err error) error {
		return &StateError{Dir: dir, File: file, Problem: problem, Kind: ErrDamaged, Err: err}
	}
	if opt.forRaft {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("consensus: %w", err)
		}
	}
	res := &CheckResult{}
	dbPath := filepath.Join(dir, dbFile)
	fi, err := os.Stat(dbPath)
	dbMissing, dbEmpty := errors.Is(err, os.ErrNotExist), err == nil && fi.Size() == 0
	switch {
	case err != nil && !dbMissing:
		return nil, nil, damaged(dbFile, "cannot be read", err)
	case err == nil && !fi.Mode().IsRegular():
		return nil, nil, damaged(dbFile, "is not a regular file", nil)
	}
	snapDir := filepath.Join(dir, "snapshots")
	snapIDs, err := snapshotDirs(snapDir)
	if err != nil {
		return nil, nil, damaged("snapshots", "cannot be listed", err)
	}
	if (dbMissing || dbEmpty) && len(snapIDs) > 0 && !snapshotOnly {
		what := "is missing"
		if dbEmpty {
			what = "is empty (0 bytes)"
		}
		return nil, nil, damaged(dbFile, what+" while snapshots remain: the log entries written since the newest snapshot are lost", nil)
	}
	if (dbMissing || dbEmpty) && len(snapIDs) == 0 && opt.requireState {
		return nil, nil, noStateError(dir)
	}
	if !dbMissing && !dbEmpty {
		warnings, err := checkBoltFile(dbPath, fi.Size())
		if errors.Is(err, ErrCheckUnfinished) {
			return nil, nil, fmt.Errorf("consensus: %s: %s: %w", dir, dbFile, err)
		}
		if err != nil {
			return nil, nil, damaged(dbFile, "", err)
		}
		for _, w := range warnings {
			res.Warnings = append(res.Warnings, dbFile+": "+w)
			log.Warn("raft data: "+dbFile+": "+w, "dir", dir)
		}
	}

	o := &openedState{}
	var logs raft.LogStore
	var stable raft.StableStore
	switch {
	case opt.forRaft:
		b, err := openBolt(dbPath, false)
		if err != nil {
			return nil, nil, damaged(dbFile, "cannot be opened", err)
		}
		o.bolt = b
		o.sealed = &sealedLogs{inner: b, ring: keys}
		logs, stable = o.sealed, b
	case !dbMissing && !dbEmpty:
		// A check only: a read-only handle, entries decrypted when keys
		// are given, read as stored (sealed) otherwise.
		b, err := openBolt(dbPath, true)
		if err != nil {
			return nil, nil, damaged(dbFile, "cannot be opened", err)
		}
		defer closeBolt(b)
		logs, stable = b, b
		if keys != nil {
			logs = &sealedLogs{inner: b, ring: keys}
		}
	}
	fail := func(err error) (*openedState, *CheckResult, error) {
		o.close()
		return nil, nil, err
	}
	if stable != nil {
		if err := checkStable(stable, res); err != nil {
			return fail(damaged(dbFile, "", err))
		}
		if err := checkLogs(logs, keys != nil, res); err != nil {
			return fail(damaged(dbFile, "", err))
		}
	}
	switch {
	case opt.forRaft:
		snaps, err := newSealedSnapshots(snapDir, 2, keys, log)
		if err != nil {
			return fail(damaged("snapshots", "cannot be opened", err))
		}
		o.snaps = snaps
		if res.Snapshot, err = checkSnapshots(snaps); err != nil {
			return fail(damaged("snapshots", "", err))
		}
	case keys != nil:
		snaps := &sealedSnapshots{dir: snapDir, retain: 2, ring: keys, log: log}
		if len(snapIDs) > 0 {
			if res.Snapshot, err = checkSnapshots(snaps); err != nil {
				return fail(damaged("snapshots", "", err))
			}
		}
	default:
		if err := checkSnapshotFiles(snapDir, snapIDs); err != nil {
			return fail(damaged("snapshots", "", err))
		}
		if len(snapIDs) > 0 {
			res.Snapshot = &SnapshotInfo{ID: snapIDs[0]}
		}
	}
	if s := res.Snapshot; s != nil && keys != nil && res.LastIndex > 0 && res.FirstIndex > s.Index+1 {
		return fail(damaged(dbFile, fmt.Sprintf("log entries %d to %d are missing: the log starts at %d and the newest snapshot ends at %d",
			s.Index+1, res.FirstIndex-1, res.FirstIndex, s.Index), nil))
	}
	if res.Snapshot == nil && res.FirstIndex > 1 {
		return fail(damaged(dbFile, fmt.Sprintf("log entries 1 to %d are missing and there is no snapshot holding them", res.FirstIndex-1), nil))
	}
	res.HasState = res.Term > 0 || res.LastIndex > 0 || res.Snapshot != nil
	if opt.requireState && !res.HasState {
		return fail(noStateError(dir))
	}
	return o, res, nil
}

// NoStateError is the error for a Raft data dir without state (see
// CheckResult.HasState), saying what is there.
func NoStateError(dir string) error { return noStateError(dir) }

func noStateError(dir string) error {
	problem := "raft.db is missing and there is no snapshot"
	if fi, err := os.Stat(filepath.Join(dir, dbFile)); err == nil {
		problem = fmt.Sprintf("raft.db (%d bytes) holds no term and no log entry, and there is no snapshot", fi.Size())
		if fi.Size() == 0 {
			problem = "raft.db is empty (0 bytes) and there is no snapshot"
		}
	}
	return &StateError{Dir: dir, Problem: problem, Kind: ErrNoState}
}

// snapshotDirs lists the completed snapshots' directory names.
func snapshotDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasSuffix(e.Name(), snapTmpSuffix) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// guarded runs f in a goroutine of its own with memory faults turned
// into panics, waits for it, and returns a panic as an error saying that
// who (the library f calls) failed.
func guarded(who string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if v := recover(); v != nil {
				errc <- fmt.Errorf("%s failed reading it: %v", who, v)
			}
		}()
		errc <- f()
	}()
	return <-errc
}

// openBolt opens raft.db (for Raft, or read-only for a check), turning a
// panic into an error.
func openBolt(path string, readOnly bool) (*raftboltdb.BoltStore, error) {
	var b *raftboltdb.BoltStore
	err := guarded("the storage library", func() error {
		var err error
		b, err = raftboltdb.New(raftboltdb.Options{Path: path,
			BoltOptions: &bolt.Options{ReadOnly: readOnly, Timeout: boltOpenTimeout}})
		return err
	})
	return b, err
}

// Keys of hashicorp/raft's stable store.
var (
	keyCurrentTerm  = []byte("CurrentTerm")
	keyLastVoteTerm = []byte("LastVoteTerm")
)

// checkStable reads the term and the vote as Raft will.
func checkStable(s raft.StableStore, res *CheckResult) error {
	return guarded("the storage library", func() error {
		for _, k := range [][]byte{keyCurrentTerm, keyLastVoteTerm} {
			v, err := s.Get(k)
			if errors.Is(err, raftboltdb.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", k, err)
			}
			if len(v) != 8 {
				return fmt.Errorf("%s is %d bytes long (want 8)", k, len(v))
			}
			if bytes.Equal(k, keyCurrentTerm) {
				res.Term = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
}

// checkLogs reads every entry from the first to the last. With opened,
// logs decrypts (a sealedLogs) and each entry's payload is decoded too.
func checkLogs(logs raft.LogStore, opened bool, res *CheckResult) error {
	return guarded("the storage library", func() error {
		first, err := logs.FirstIndex()
		if err != nil {
			return fmt.Errorf("reading the first log index: %w", err)
		}
		last, err := logs.LastIndex()
		if err != nil {
			return fmt.Errorf("reading the last log index: %w", err)
		}
		res.FirstIndex, res.LastIndex = first, last
		if last == 0 {
			return nil
		}
		if first == 0 || first > last {
			return fmt.Errorf("the log's bounds make no sense: first index %d, last %d", first, last)
		}
		var prevTerm uint64
		for i := first; i <= last; i++ {
			var l raft.Log
			if err := logs.GetLog(i, &l); err != nil {
				if errors.Is(err, raft.ErrLogNotFound) {
					return fmt.Errorf("log entry %d is missing (the log runs from %d to %d)", i, first, last)
				}
				if errors.Is(err, seal.ErrDecrypt) {
					return fmt.Errorf("log entry %d does not decrypt: %w", i, seal.ErrDecrypt)
				}
				return fmt.Errorf("log entry %d cannot be read: %w", i, err)
			}
			if l.Index != i {
				return fmt.Errorf("log entry %d says it is entry %d", i, l.Index)
			}
			if l.Term < prevTerm || l.Term == 0 {
				return fmt.Errorf("log entry %d has term %d after term %d", i, l.Term, prevTerm)
			}
			prevTerm = l.Term
			if opened {
				if err := decodeEntry(&l); err != nil {
					return fmt.Errorf("log entry %d does not decode: %w", i, err)
				}
			}
		}
		if res.Term > 0 && prevTerm > res.Term {
			return fmt.Errorf("the last log entry has term %d, after the stored current term %d", prevTerm, res.Term)
		}
		return nil
	})
}

// decodeEntry decodes an entry's payload as Raft and the store will.
func decodeEntry(l *raft.Log) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	switch l.Type {
	case raft.LogCommand:
		_, err = store.DecodeCommand(l.Data)
	case raft.LogConfiguration:
		raft.DecodeConfiguration(l.Data) // panics on bad data
	}
	return err
}

// checkSnapshots opens every snapshot's metadata and the newest one's
// state in full (every chunk authenticated, the state decoded).
func checkSnapshots(s *sealedSnapshots) (*SnapshotInfo, error) {
	var info *SnapshotInfo
	err := guarded("the storage library", func() error {
		metas, err := s.all()
		if err != nil {
			return err
		}
		if len(metas) == 0 {
			return nil
		}
		m := metas[0]
		_, rc, err := s.Open(m.ID)
		if err != nil {
			return err
		}
		defer rc.Close()
		if err := (&store.FSM{Store: store.New()}).Restore(io.NopCloser(rc)); err != nil {
			return fmt.Errorf("snapshot %s: %w", m.ID, err)
		}
		info = &SnapshotInfo{ID: m.ID, Index: m.Index, Term: m.Term, Size: m.Size}
		return nil
	})
	return info, err
}

// checkSnapshotFiles checks, without keys, that each snapshot has its
// files.
func checkSnapshotFiles(dir string, ids []string) error {
	for _, id := range ids {
		for _, f := range []string{snapMetaFile, snapStateFile} {
			fi, err := os.Stat(filepath.Join(dir, id, f))
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", id, err)
			}
			if fi.Size() == 0 {
				return fmt.Errorf("snapshot %s: its %s file is empty", id, f)
			}
		}
	}
	return nil
}
