package store

import (
	"errors"
	"fmt"
	"reflect"
)

// KindError is an error of a known kind (ErrConflict, ErrNameInUse, …)
// whose message is only its own text: errors.Is matches the kind, and the
// user reads no "conflict: " prefix. It may keep the error it was made
// from (Cause), so that errors.Is and errors.As see through it; the
// message and the kind stay its own.
type KindError struct {
	Kind error
	Msg  string
	// Cause is the error the message came from (what Errorf's %w verbs
	// wrapped), nil if none.
	Cause error
}

func (e *KindError) Error() string { return e.Msg }

// Is matches the kind.
func (e *KindError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause, if the message came from one.
func (e *KindError) Unwrap() error { return e.Cause }

// Errorf makes a KindError, its message formatted as fmt.Errorf does. An
// error given for a %w verb is kept as the cause (several: all of them),
// printed as %v would print it: Errorf(kind, "%w", err) has err's message
// and lets errors.Is(…, target) and errors.As find what err wraps.
func Errorf(kind error, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	var cause error
	switch w := err.(type) {
	case interface{ Unwrap() error }:
		cause = w.Unwrap()
	case interface{ Unwrap() []error }:
		cause = errors.Join(w.Unwrap()...)
	}
	return &KindError{Kind: kind, Msg: err.Error(), Cause: cause}
}

// KindIs is errors.Is as the APIs' status codes see an error: a KindError
// is of its own kind only, the cause it keeps is not looked into. An
// error's status (HTTP, peer code) is its outermost kind's, as it was
// before KindErrors kept their causes: a bad request made from a "not
// found" stays a bad request.
func KindIs(err, kind error) bool {
	if err == nil || kind == nil {
		return err == kind
	}
	comparable := reflect.TypeOf(kind).Comparable()
	for {
		if comparable && err == kind {
			return true
		}
		if ke, ok := err.(*KindError); ok {
			return ke.Kind == kind
		}
		if x, ok := err.(interface{ Is(error) bool }); ok && x.Is(kind) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if err = u.Unwrap(); err == nil {
				return false
			}
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if KindIs(e, kind) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
}
