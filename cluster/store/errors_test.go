package store

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

// pathErr is a cause of a type errors.As looks for.
var pathErr = &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}

func TestErrorfKeepsCause(t *testing.T) {
	errA, errB := errors.New("a failed"), errors.New("b failed")
	kindOther := errors.New("other kind")
	for _, tc := range []struct {
		name    string
		err     error
		msg     string
		is      []error // errors.Is must find each
		isNot   []error
		wantAs  bool // errors.As finds pathErr
		noCause bool
	}{
		{name: "no verb for an error", err: Errorf(ErrConflict, "service %s changed", "web"),
			msg: "service web changed", is: []error{ErrConflict}, isNot: []error{ErrNotFound}, noCause: true},
		{name: "%s flattens (a string argument)", err: Errorf(ErrConflict, "%s", "plain"),
			msg: "plain", is: []error{ErrConflict}, noCause: true},
		{name: "%w keeps the cause, the message as %s gave", err: Errorf(ErrNotFound, "%w", errA),
			msg: "a failed", is: []error{ErrNotFound, errA}, isNot: []error{errB}},
		{name: "%w inside text", err: Errorf(ErrInUse, "network x: %w", pathErr),
			msg: "network x: open /x: file does not exist", is: []error{ErrInUse, fs.ErrNotExist}, wantAs: true},
		{name: "two %w", err: Errorf(ErrConflict, "%w and %w", errA, errB),
			msg: "a failed and b failed", is: []error{ErrConflict, errA, errB}},
		{name: "a kind error as the cause", err: Errorf(ErrConflict, "%w", Errorf(kindOther, "%w", pathErr)),
			msg: "open /x: file does not exist", is: []error{ErrConflict, kindOther, fs.ErrNotExist}, wantAs: true},
		{name: "wrapped again with fmt", err: fmt.Errorf("backup: %w", Errorf(ErrConflict, "%w", errA)),
			msg: "backup: a failed", is: []error{ErrConflict, errA}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.msg {
				t.Errorf("message %q, want %q", got, tc.msg)
			}
			for _, target := range tc.is {
				if !errors.Is(tc.err, target) {
					t.Errorf("errors.Is(err, %q) = false", target)
				}
			}
			for _, target := range tc.isNot {
				if errors.Is(tc.err, target) {
					t.Errorf("errors.Is(err, %q) = true", target)
				}
			}
			var pe *fs.PathError
			if got := errors.As(tc.err, &pe); got != tc.wantAs {
				t.Errorf("errors.As(*fs.PathError) = %v, want %v", got, tc.wantAs)
			}
			var ke *KindError
			if !errors.As(tc.err, &ke) {
				t.Fatal("no KindError in the chain")
			}
			if (ke.Cause == nil) != tc.noCause {
				t.Errorf("cause %v, want none: %v", ke.Cause, tc.noCause)
			}
		})
	}
}

// TestKindIs: the outermost kind decides; a kept cause of another kind
// does not count, as before KindErrors kept causes.
func TestKindIs(t *testing.T) {
	notFound := Errorf(ErrNotFound, "network x not found")
	plain := errors.New("plain")
	for _, tc := range []struct {
		name string
		err  error
		kind error
		want bool
	}{
		{"its own kind", notFound, ErrNotFound, true},
		{"another kind", notFound, ErrConflict, false},
		{"a cause's kind does not count", Errorf(ErrConflict, "%w", notFound), ErrNotFound, false},
		{"the outer kind does", Errorf(ErrConflict, "%w", notFound), ErrConflict, true},
		{"through fmt wrapping", fmt.Errorf("x: %w", notFound), ErrNotFound, true},
		{"a plain sentinel", fmt.Errorf("x: %w", plain), plain, true},
		{"a sentinel under a kind error", Errorf(ErrConflict, "%w", plain), plain, false},
		{"joined: any member", errors.Join(plain, notFound), ErrNotFound, true},
		{"an Is method (ReadTx's not found)", fmt.Errorf("x: %w", isNotFound{}), ErrNotFound, true},
		{"nil", nil, ErrNotFound, false},
		{"none", plain, ErrNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindIs(tc.err, tc.kind); got != tc.want {
				t.Fatalf("KindIs = %v, want %v", got, tc.want)
			}
		})
	}
}

// isNotFound is an error that says it is ErrNotFound through an Is method.
type isNotFound struct{}

func (isNotFound) Error() string        { return "gone" }
func (isNotFound) Is(target error) bool { return target == ErrNotFound }
