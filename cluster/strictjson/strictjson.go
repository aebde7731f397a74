// Package strictjson decodes JSON from outside the daemon strictly: one
// value, every field of it known, nothing after it. A mistake in a
// request (a misspelt field, a field of a newer API, two bodies pasted
// together) is then an error that says what it is, instead of something
// silently ignored.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error of Decode and
// Unmarshal. The errors' own text says only what is wrong ("unknown field
// \"Colour\""): the caller says in what.
var ErrInvalid = errors.New("invalid JSON")

// Error is an error of Decode and Unmarshal.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Is matches ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, a ...any) error { return &Error{msg: fmt.Sprintf(format, a...)} }

// Decode reads exactly one JSON value from r into v. It refuses an empty
// input, an object field v has no place for (at every depth that
// encoding/json decodes itself: a type with its own UnmarshalJSON must be
// strict on its own, with Unmarshal), and anything but white space after
// the value. A body cut by http.MaxBytesReader is reported as too large.
func Decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return explain(err)
	}
	switch _, err := dec.Token(); {
	case err == io.EOF:
		return nil
	case err == nil, isSyntax(err):
		return invalid("unexpected data after the JSON value")
	default:
		return explain(err)
	}
}

// Unmarshal is Decode for a value already in memory, for a type's own
// UnmarshalJSON.
func Unmarshal(b []byte, v any) error {
	return Decode(bytes.NewReader(b), v)
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

// explain turns a decoding error into one that says what is wrong in the
// input's terms, matching ErrInvalid.
func explain(err error) error {
	var (
		tooBig *http.MaxBytesError
		se     *json.SyntaxError
		te     *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return invalid("the body is over the limit of %d bytes", tooBig.Limit)
	case errors.Is(err, ErrInvalid):
		return err // from a strict UnmarshalJSON inside
	case err == io.EOF:
		return invalid("the body is empty: want a JSON value")
	case err == io.ErrUnexpectedEOF:
		return invalid("the JSON value is cut short")
	case errors.As(err, &se):
		return invalid("%s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	case errors.As(err, &te) && te.Type != nil:
		field := te.Field
		if field == "" {
			field = "the value"
		}
		return invalid("%s: got a JSON %s, want %s", field, te.Value, te.Type)
	}
	// "json: unknown field \"X\"", and errors of the types' own decoders
	// (an unknown task state, a bad duration).
	return invalid("%s", strings.TrimPrefix(err.Error(), "json: "))
}
