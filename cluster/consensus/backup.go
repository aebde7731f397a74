package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"sw/cluster/seal"
	"sw/cluster/store"
)

// Snapshots for backups (`sw swarm backup`) and restores: a fresh one
// taken through Raft, sealed into the files a data dir holds it in, and
// read back from a restored dir before Raft starts on it.

// PlainSnapshot is a snapshot of a manager's state, decrypted (in memory
// only).
type PlainSnapshot struct {
	SnapshotInfo
	meta  raft.SnapshotMeta
	State []byte
}

// FreshSnapshot waits until this node has applied everything known to be
// committed (a barrier on the leader), has Raft take a snapshot of it, and
// returns that snapshot opened. When Raft has nothing new to snapshot, the
// newest stored snapshot is the state and is returned.
func (n *Node) FreshSnapshot(ctx context.Context) (*PlainSnapshot, error) {
	if n.IsLeader() {
		if err := n.Barrier(ctx); err != nil {
			return nil, fmt.Errorf("consensus: waiting for the committed entries: %w", err)
		}
	} else {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for !n.CaughtUp() {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("consensus: this manager has not caught up with the leader: %w", ctx.Err())
			case <-t.C:
			}
		}
	}
	var meta *raft.SnapshotMeta
	var rc io.ReadCloser
	f := n.raft.Snapshot()
	err := f.Error()
	switch {
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		metas, lerr := n.snaps.List()
		if lerr != nil {
			return nil, fmt.Errorf("consensus: %w", lerr)
		}
		if len(metas) == 0 {
			return nil, errors.New("consensus: Raft has nothing to snapshot and no snapshot is stored")
		}
		meta, rc, err = n.snaps.Open(metas[0].ID)
	case err == nil:
		meta, rc, err = f.Open()
	}
	if err != nil {
		return nil, fmt.Errorf("consensus: snapshot: %w", err)
	}
	defer rc.Close()
	state, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("consensus: reading the snapshot: %w", err)
	}
	return &PlainSnapshot{SnapshotInfo: SnapshotInfo{ID: meta.ID, Index: meta.Index, Term: meta.Term, Size: int64(len(state))},
		meta: *meta, State: state}, nil
}

// SnapshotFiles are a snapshot's files as a Raft data dir holds them:
// snapshots/<ID>/meta and snapshots/<ID>/state.
type SnapshotFiles struct {
	ID          string
	Meta, State []byte
}

// MetaName is the metadata file's name, relative to the Raft data dir.
func (f *SnapshotFiles) MetaName() string { return path.Join("snapshots", f.ID, snapMetaFile) }

// StateName is the state file's name, relative to the Raft data dir.
func (f *SnapshotFiles) StateName() string { return path.Join("snapshots", f.ID, snapStateFile) }

// Seal encrypts the snapshot with key, as the data dir's snapshots are.
func (p *PlainSnapshot) Seal(key seal.Key) (*SnapshotFiles, error) {
	var state bytes.Buffer
	w, err := seal.NewWriter(&state, key)
	if err == nil {
		_, err = w.Write(p.State)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("consensus: sealing the snapshot: %w", err)
	}
	m := p.meta
	m.Size = int64(len(p.State))
	mb, err := json.Marshal(&m)
	if err != nil {
		return nil, err
	}
	return &SnapshotFiles{ID: m.ID, Meta: seal.NewKeyring(key, nil).Seal(mb, metaAD(m.ID)), State: state.Bytes()}, nil
}

var snapshotFileRe = regexp.MustCompile(`^snapshots/[0-9]+-[0-9]+-[0-9]+/(meta|state)$`)

// IsSnapshotFile reports whether name (slash-separated, relative to a
// Raft data dir) is a snapshot's file.
func IsSnapshotFile(name string) bool { return snapshotFileRe.MatchString(name) }

// LoadSnapshot reads the one snapshot of a Raft data dir that holds
// nothing else yet (a restored backup): its metadata and its whole state
// opened with keys and decoded into a store, which it returns. Damage is
// a *StateError.
func LoadSnapshot(dir string, keys *seal.Keyring) (*SnapshotInfo, *store.Store, error) {
	damaged := func(problem string, err error) error {
		return &StateError{Dir: dir, File: "snapshots", Problem: problem, Kind: ErrDamaged, Err: err}
	}
	s := &sealedSnapshots{dir: filepath.Join(dir, "snapshots"), retain: 2, ring: keys, log: hclog.NewNullLogger()}
	var info *SnapshotInfo
	st := store.New()
	err := guarded("the snapshot reader", func() error {
		metas, err := s.all()
		if err != nil {
			return damaged("", err)
		}
		if len(metas) != 1 {
			return damaged(fmt.Sprintf("%d snapshots, want exactly one", len(metas)), nil)
		}
		m, rc, err := s.Open(metas[0].ID)
		if err != nil {
			return damaged("", err)
		}
		defer rc.Close()
		if err := (&store.FSM{Store: st}).Restore(io.NopCloser(rc)); err != nil {
			return damaged("snapshot "+m.ID, err)
		}
		info = &SnapshotInfo{ID: m.ID, Index: m.Index, Term: m.Term, Size: m.Size}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return info, st, nil
}
