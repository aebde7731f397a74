package store

import (
	"errors"
	"time"
)

// MaxRequests is how many request IDs the request log remembers, the
// newest. A write is retried within seconds of its first try (the
// forwarder gives up after consensus.DefaultProposeTimeout), well within
// 20,000 writes at any rate sw commits, so this bounds memory and snapshot
// size (about 2 MB) without forgetting a request that can still come
// back. The log is pruned by count, not by time: a leader's clock says
// nothing about how long ago a request was.
const MaxRequests = 20000

// RequestRecord is what the store remembers of an applied request: when,
// and its result (the error's kind and text; both empty for success).
type RequestRecord struct {
	ID    string    `json:"ID"`
	Index uint64    `json:"Index"`
	Time  time.Time `json:"Time"`
	Kind  string    `json:"Kind,omitempty"`
	Err   string    `json:"Err,omitempty"`
}

// errorKinds are the kinds of error a command can end with, by the name a
// record keeps: a repeated request gets its first result's kind back.
var errorKinds = []struct {
	name string
	kind error
}{
	{"conflict", ErrConflict}, {"name_in_use", ErrNameInUse}, {"not_found", ErrNotFound},
	{"bad_command", ErrBadCommand}, {"exists", ErrExists}, {"addr_in_use", ErrAddrInUse}, {"in_use", ErrInUse},
}

func recordOf(id string, index uint64, at time.Time, err error) RequestRecord {
	r := RequestRecord{ID: id, Index: index, Time: at}
	if err == nil {
		return r
	}
	r.Err = err.Error()
	for _, k := range errorKinds {
		if errors.Is(err, k.kind) {
			r.Kind = k.name
			break
		}
	}
	return r
}

// result is the recorded outcome, as Apply first returned it.
func (r *RequestRecord) result() error {
	if r.Err == "" {
		return nil
	}
	for _, k := range errorKinds {
		if r.Kind == k.name {
			return Errorf(k.kind, "%s", r.Err)
		}
	}
	return errors.New(r.Err)
}

// requestLog remembers the requests applied lately, oldest first. It is
// part of the replicated state: every manager applies the same commands
// in the same order, and prunes by the commands' own times, so all agree
// on what it holds (and snapshots carry it).
type requestLog struct {
	byID  map[string]*RequestRecord
	order []*RequestRecord // a queue: order[head:] are live
	head  int
}

func (l *requestLog) get(id string) *RequestRecord { return l.byID[id] }

// add records a request and forgets the oldest beyond MaxRequests.
func (l *requestLog) add(r RequestRecord) {
	if l.byID == nil {
		l.byID = map[string]*RequestRecord{}
	}
	rec := &r
	l.byID[r.ID] = rec
	l.order = append(l.order, rec)
	for len(l.order)-l.head > MaxRequests {
		old := l.order[l.head]
		delete(l.byID, old.ID)
		l.order[l.head] = nil
		l.head++
	}
	// Compact the queue once its dead front outgrows its live part.
	if l.head > 1024 && l.head > len(l.order)/2 {
		l.order = append([]*RequestRecord(nil), l.order[l.head:]...)
		l.head = 0
	}
}

// records returns the live records, oldest first.
func (l *requestLog) records() []RequestRecord {
	out := make([]RequestRecord, 0, len(l.order)-l.head)
	for _, r := range l.order[l.head:] {
		out = append(out, *r)
	}
	return out
}

func requestLogFrom(recs []RequestRecord) requestLog {
	var l requestLog
	for _, r := range recs {
		if r.ID == "" {
			continue
		}
		if l.byID == nil {
			l.byID = map[string]*RequestRecord{}
		}
		rec := r
		l.byID[r.ID] = &rec
		l.order = append(l.order, &rec)
	}
	return l
}
