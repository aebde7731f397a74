package peer

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"sw/cluster/strictjson"
)

// WriteError answers a peer request with status and body.
func WriteError(w http.ResponseWriter, status int, body ErrorBody) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Fail answers a peer request with err, its kind carried as a code
// (EncodeError).
func Fail(w http.ResponseWriter, err error) {
	status, body := EncodeError(err)
	WriteError(w, status, body)
}

// Reply answers a peer request with v as JSON.
func Reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// MaxBody is the largest request body the peer API reads (a forwarded
// command may carry a big batch of tasks).
const MaxBody = 16 << 20

// ReadJSON reads a peer request body strictly into v: one JSON value,
// every field known (a peer of another version sending a field this one
// lacks is refused, not half understood), at most MaxBody bytes.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return DecodeBody(http.MaxBytesReader(w, r.Body, MaxBody), v)
}

// DecodeBody reads body strictly into v, as ReadJSON does, with no bound
// of its own.
func DecodeBody(body io.Reader, v any) error {
	if err := strictjson.Decode(body, v); err != nil {
		return fmt.Errorf("invalid request body: %w", err)
	}
	return nil
}
