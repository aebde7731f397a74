package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"sw/cluster/seal"
)

// sealedLogs is a raft.LogStore that keeps each entry's Data and
// Extensions encrypted with the manager's data key; index, term and type
// stay in the clear (Raft needs nothing else, and they say nothing of the
// swarm). The additional data binds a ciphertext to its index, term and
// type, so entries cannot be swapped or moved unnoticed.
type sealedLogs struct {
	inner raft.LogStore
	ring  *seal.Keyring
	// mu is held shared by every call and exclusively by reencrypt, so no
	// entry changes while it is rewritten.
	mu sync.RWMutex
}

var _ raft.LogStore = (*sealedLogs)(nil)

func logAD(l *raft.Log, part byte) []byte {
	ad := make([]byte, 0, 32)
	ad = append(ad, "sw raft log\x00"...)
	ad = binary.BigEndian.AppendUint64(ad, l.Index)
	ad = binary.BigEndian.AppendUint64(ad, l.Term)
	return append(ad, byte(l.Type), part)
}

const (
	partData byte = 'd'
	partExt  byte = 'x'
)

// sealLog returns a sealed copy of l; l itself is not changed (Raft keeps
// using it).
func (s *sealedLogs) sealLog(l *raft.Log) *raft.Log {
	c := *l
	if len(l.Data) > 0 {
		c.Data = s.ring.Seal(l.Data, logAD(l, partData))
	}
	if len(l.Extensions) > 0 {
		c.Extensions = s.ring.Seal(l.Extensions, logAD(l, partExt))
	}
	return &c
}

// openLog decrypts l in place.
func (s *sealedLogs) openLog(l *raft.Log) error {
	if len(l.Data) > 0 {
		p, err := s.ring.Open(l.Data, logAD(l, partData))
		if err != nil {
			return fmt.Errorf("consensus: Raft log entry %d: %w", l.Index, err)
		}
		l.Data = p
	}
	if len(l.Extensions) > 0 {
		p, err := s.ring.Open(l.Extensions, logAD(l, partExt))
		if err != nil {
			return fmt.Errorf("consensus: Raft log entry %d: %w", l.Index, err)
		}
		l.Extensions = p
	}
	return nil
}

func (s *sealedLogs) FirstIndex() (uint64, error) { return s.inner.FirstIndex() }
func (s *sealedLogs) LastIndex() (uint64, error)  { return s.inner.LastIndex() }

func (s *sealedLogs) GetLog(index uint64, l *raft.Log) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.inner.GetLog(index, l); err != nil {
		return err
	}
	return s.openLog(l)
}

func (s *sealedLogs) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *sealedLogs) StoreLogs(logs []*raft.Log) error {
	sealed := make([]*raft.Log, len(logs))
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, l := range logs {
		sealed[i] = s.sealLog(l)
	}
	return s.inner.StoreLogs(sealed)
}

func (s *sealedLogs) DeleteRange(lo, hi uint64) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.inner.DeleteRange(lo, hi)
}

// reencrypt rewrites every entry with the keyring's current key, Raft
// waiting meanwhile. Old ciphertext may linger in the database's free
// pages until they are reused; it is useless without the old key.
func (s *sealedLogs) reencrypt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, err := s.inner.FirstIndex()
	if err != nil {
		return err
	}
	last, err := s.inner.LastIndex()
	if err != nil {
		return err
	}
	if first == 0 {
		return nil
	}
	const batchSize = 256
	batch := make([]*raft.Log, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.inner.StoreLogs(batch)
		batch = batch[:0]
		return err
	}
	for i := first; i <= last; i++ {
		l := &raft.Log{}
		if err := s.inner.GetLog(i, l); errors.Is(err, raft.ErrLogNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if err := s.openLog(l); err != nil {
			return err
		}
		batch = append(batch, s.sealLog(l))
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
