package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"sw/cluster/types"
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
	if s.ReconcileError != "too big" || s.Version != 1 || s.SpecVersion != 1 {
		t.Fatalf("after the report: %q version %d spec version %d", s.ReconcileError, s.Version, s.SpecVersion)
	}
	must(3, Change{ServiceProblem: &ServiceProblem{ServiceID: "s1", Message: "too big"}})
	if v := st.View().Service("s1").Version; v != 1 {
		t.Fatalf("a report moved the service's version to %d", v)
	}
	must(4, Change{ServiceProblem: &ServiceProblem{ServiceID: "gone", Message: "x"}})
	must(5, Change{ServiceProblem: &ServiceProblem{ServiceID: "s1"}})
	if st.View().Service("s1").ReconcileError != "" {
		t.Fatal("an empty report did not clear the error")
	}
}

// TestBatchGroups: groups are never split, commands stay under the change
// and byte bounds (but for a group that alone is over them), order holds.
func TestBatchGroups(t *testing.T) {
	small := func(i int) Change { return Change{DeleteTask: fmt.Sprintf("t%06d", i)} }
	big := func(i int) Change {
		return Change{CreateTask: &types.Task{ID: fmt.Sprintf("big%d", i), Spec: types.ContainerSpec{Image: strings.Repeat("x", MaxBatchBytes/3)}}}
	}
	var groups [][]Change
	n := 0
	for i := 0; i < 1500; i++ { // pairs: 3000 small changes
		groups = append(groups, []Change{small(n), small(n + 1)})
		n += 2
	}
	groups = append(groups, []Change{big(0), big(1)}, []Change{big(2)}, []Change{big(3), big(4), big(5), big(6)}, []Change{small(n)})
	cmds := BatchGroups(groups)
	var flat []Change
	for _, c := range cmds {
		size := 0
		for i := range c.Changes {
			size += encodedSize(&c.Changes[i])
		}
		alone := len(c.Changes) == 4 && c.Changes[0].CreateTask != nil && c.Changes[0].CreateTask.ID == "big3"
		if len(c.Changes) > MaxBatch || (size > MaxBatchBytes && !alone) {
			t.Fatalf("a command of %d changes, %d bytes", len(c.Changes), size)
		}
		flat = append(flat, c.Changes...)
	}
	// Order kept and no pair split: a pair's first change never ends a command.
	i := 0
	for _, g := range groups {
		for _, ch := range g {
			if encodedSize(&ch) != encodedSize(&flat[i]) {
				t.Fatalf("change %d out of order", i)
			}
			i++
		}
	}
	pos := 0
	boundaries := map[int]bool{}
	for _, c := range cmds {
		pos += len(c.Changes)
		boundaries[pos] = true
	}
	off := 0
	for _, g := range groups {
		for k := 1; k < len(g); k++ {
			if boundaries[off+k] {
				t.Fatalf("a group split at change %d", off+k)
			}
		}
		off += len(g)
	}
}
