package store

import "fmt"

// KindError is an error of a known kind (ErrConflict, ErrNameInUse, …)
// whose message is only its own text: errors.Is matches the kind, and the
// user reads no "conflict: " prefix.
type KindError struct {
	Kind error
	Msg  string
}

func (e *KindError) Error() string { return e.Msg }

// Is matches the kind.
func (e *KindError) Is(target error) bool { return target == e.Kind }

// Unwrap exposes a wrapped cause, if the message came from one.
func (e *KindError) Unwrap() error { return nil }

// Errorf makes a KindError.
func Errorf(kind error, format string, a ...any) error {
	return &KindError{Kind: kind, Msg: fmt.Sprintf(format, a...)}
}
