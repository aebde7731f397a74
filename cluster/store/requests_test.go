package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestRequestAppliedOnce: a command applied again with its request ID is
// not applied a second time; it gets the first result back, whatever the
// state is by then.
func TestRequestAppliedOnce(t *testing.T) {
	cases := []struct {
		name string
		// first and then are the two commands sharing one request ID;
		// between runs in the meantime.
		first, between []Change
		want           error // the first result, returned both times
		check          func(t *testing.T, st *Store)
	}{
		{
			name:  "a create retried after it committed succeeds, once",
			first: []Change{{CreateService: svc("s1", "web")}},
			check: func(t *testing.T, st *Store) {
				if n := len(st.View().Services()); n != 1 {
					t.Fatalf("%d services, want 1", n)
				}
			},
		},
		{
			name:    "a create retried after its service was removed is not made again",
			first:   []Change{{CreateService: svc("s1", "web")}},
			between: []Change{{DeleteService: "s1"}},
			check: func(t *testing.T, st *Store) {
				if n := len(st.View().Services()); n != 0 {
					t.Fatalf("%d services, want the removal to stand", n)
				}
			},
		},
		{
			name:    "a failure is answered as the same failure",
			first:   []Change{{CreateService: svc("s2", "web")}},
			between: nil,
			want:    ErrNameInUse,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := New()
			idx := uint64(1)
			apply := func(reqID string, ch []Change) error {
				idx++
				return st.Apply(idx, &Command{Time: t0, RequestID: reqID, Changes: ch})
			}
			if tc.want != nil { // the name is taken before the first try
				if err := apply("", []Change{{CreateService: svc("s0", "web")}}); err != nil {
					t.Fatal(err)
				}
			}
			first := apply("req-1", tc.first)
			if !errors.Is(first, tc.want) && first != tc.want {
				t.Fatalf("first result %v, want %v", first, tc.want)
			}
			if tc.between != nil {
				if err := apply("", tc.between); err != nil {
					t.Fatal(err)
				}
			}
			before := st.View().Index
			again := apply("req-1", tc.first)
			if (again == nil) != (first == nil) || (first != nil && (again.Error() != first.Error() || !errors.Is(again, tc.want))) {
				t.Fatalf("repeated result %v, want the first one's %v", again, first)
			}
			if st.Index() != before+1 {
				t.Fatalf("the repeat did not consume its index: %d after %d", st.Index(), before)
			}
			if tc.check != nil {
				tc.check(t, st)
			}
		})
	}
}

// TestRequestUpdateRetried: an update applied twice (its version check
// would fail the second time) answers success once it has landed.
func TestRequestUpdateRetried(t *testing.T) {
	st := New()
	if err := st.Apply(1, &Command{Time: t0, Changes: []Change{{CreateService: svc("s1", "web")}}}); err != nil {
		t.Fatal(err)
	}
	u := *st.View().Service("s1")
	u.Spec.Replicas = 7
	cmd := &Command{Time: t0, RequestID: "upd", Changes: []Change{{UpdateService: &u}}}
	for i := uint64(2); i <= 3; i++ {
		if err := st.Apply(i, cmd); err != nil {
			t.Fatalf("try %d: %v", i-1, err)
		}
	}
	got := st.View().Service("s1")
	if got.Spec.Replicas != 7 || got.Version != 2 {
		t.Fatalf("service after the retried update: replicas %d version %d", got.Spec.Replicas, got.Version)
	}
	// Without a request ID the same retry is a conflict: what the ID is for.
	if err := st.Apply(4, &Command{Time: t0, Changes: []Change{{UpdateService: &u}}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("an update without request ID, repeated: %v", err)
	}
}

// TestRequestLogBounded: the log keeps the newest MaxRequests records,
// dropping the oldest first, whatever the command times say; a forgotten
// ID applies again.
func TestRequestLogBounded(t *testing.T) {
	var l requestLog
	for i := 0; i < MaxRequests+10; i++ {
		// Times run backwards (a new leader with a slow clock): no matter.
		l.add(RequestRecord{ID: fmt.Sprint(i), Index: uint64(i), Time: t0.Add(-time.Duration(i) * time.Hour)})
	}
	if n := len(l.records()); n != MaxRequests {
		t.Fatalf("%d records, want MaxRequests %d", n, MaxRequests)
	}
	if l.get("9") != nil || l.get("10") == nil || l.get(fmt.Sprint(MaxRequests+9)) == nil {
		t.Fatal("the bound did not drop the oldest first")
	}
	if recs := l.records(); recs[0].ID != "10" || recs[len(recs)-1].ID != fmt.Sprint(MaxRequests+9) {
		t.Fatalf("records out of order: first %s, last %s", recs[0].ID, recs[len(recs)-1].ID)
	}
	for i := 0; i < 3*MaxRequests; i++ {
		l.add(RequestRecord{ID: fmt.Sprint("more", i)})
	}
	if len(l.order) > 2*MaxRequests+1024 {
		t.Fatalf("the queue was never compacted: %d slots", len(l.order))
	}
	st := New()
	st.requests = l
	if err := st.Apply(1, &Command{Time: t0, RequestID: "9", Changes: []Change{{CreateService: svc("s1", "web")}}}); err != nil || st.View().Service("s1") == nil {
		t.Fatalf("a forgotten request ID did not apply: %v", err)
	}
}

// TestRequestLogInSnapshot: a restored manager still knows the requests,
// so a retry that reaches it after a snapshot is answered, not re-applied.
func TestRequestLogInSnapshot(t *testing.T) {
	st := New()
	if err := st.Apply(1, &Command{Time: t0, RequestID: "r1", Changes: []Change{{CreateService: svc("s1", "web")}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(2, &Command{Time: t0, RequestID: "r2", Changes: []Change{{CreateService: svc("s2", "web")}}}); !errors.Is(err, ErrNameInUse) {
		t.Fatal(err)
	}
	snap, err := (&FSM{Store: st}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	restored := New()
	if err := (&FSM{Store: restored}).Restore(sink.Reader()); err != nil {
		t.Fatal(err)
	}
	if err := restored.Apply(3, &Command{Time: t0, RequestID: "r1", Changes: []Change{{DeleteService: "s1"}}}); err != nil {
		t.Fatal(err)
	}
	if restored.View().Service("s1") == nil {
		t.Fatal("a request known before the snapshot was applied again after it")
	}
	if err := restored.Apply(4, &Command{Time: t0, RequestID: "r2"}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("a failed request after the snapshot: %v, want its name-in-use error", err)
	}
}
