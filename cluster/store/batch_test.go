package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestBatches(t *testing.T) {
	mk := func(n int) []Change {
		out := make([]Change, n)
		for i := range out {
			out[i] = Change{DeleteTask: fmt.Sprint(i)}
		}
		return out
	}
	for _, tc := range []struct{ n, want int }{{0, 0}, {1, 1}, {MaxBatch, 1}, {MaxBatch + 1, 2}, {3*MaxBatch + 5, 4}} {
		got := Batches(mk(tc.n))
		if len(got) != tc.want {
			t.Fatalf("%d changes: %d batches, want %d", tc.n, len(got), tc.want)
		}
		next := 0
		for _, c := range got {
			if len(c.Changes) == 0 || len(c.Changes) > MaxBatch {
				t.Fatalf("a batch of %d changes", len(c.Changes))
			}
			for _, ch := range c.Changes {
				if ch.DeleteTask != fmt.Sprint(next) {
					t.Fatalf("changes out of order: %s at %d", ch.DeleteTask, next)
				}
				next++
			}
		}
		if next != tc.n {
			t.Fatalf("%d changes came out of %d", next, tc.n)
		}
	}
}

type countingProposer struct {
	cmds   int
	failAt int
}

func (p *countingProposer) Propose(_ context.Context, _ *Command) error {
	p.cmds++
	if p.cmds == p.failAt {
		return errors.New("lost leadership")
	}
	return nil
}

func TestProposeAllStopsAtFailure(t *testing.T) {
	p := &countingProposer{failAt: 2}
	if err := ProposeAll(context.Background(), p, make([]Change, 3*MaxBatch)); err == nil || p.cmds != 2 {
		t.Fatalf("err %v after %d commands, want the failure of the 2nd", err, p.cmds)
	}
}

func TestServiceProblem(t *testing.T) {
	st := New()
	must := func(idx uint64, c Change) {
		t.Helper()
		if err := st.Apply(idx, &Command{Time: t0, Changes: []Change{c}}); err != nil {
			t.Fatal(err)
		}
	}
	must(1, Change{CreateService: svc("s1", "web")})
	must(2, Change{ServiceProblem: &ServiceProblem{ServiceID: "s1", Message: "too big"}})
	s := st.View().Service("s1")
	if s.ReconcileError != "too big" || s.Version != 2 || s.SpecVersion != 1 {
		t.Fatalf("after the report: %q version %d spec version %d", s.ReconcileError, s.Version, s.SpecVersion)
	}
	must(3, Change{ServiceProblem: &ServiceProblem{ServiceID: "s1", Message: "too big"}})
	if v := st.View().Service("s1").Version; v != 2 {
		t.Fatalf("the same report rewrote the service (version %d)", v)
	}
	must(4, Change{ServiceProblem: &ServiceProblem{ServiceID: "gone", Message: "x"}})
	must(5, Change{ServiceProblem: &ServiceProblem{ServiceID: "s1"}})
	if st.View().Service("s1").ReconcileError != "" {
		t.Fatal("an empty report did not clear the error")
	}
}
