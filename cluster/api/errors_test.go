package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"sw/cluster/store"
)

// TestWriteErrorStatus: an error's status is its outermost kind's; a kind
// error that keeps a cause of another kind answers as before.
func TestWriteErrorStatus(t *testing.T) {
	notFound := store.Errorf(store.ErrNotFound, "network x not found")
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"bad request", store.Errorf(ErrBadRequest, "invalid role"), http.StatusBadRequest},
		{"not found", notFound, http.StatusNotFound},
		{"conflict", store.Errorf(store.ErrConflict, "changed"), http.StatusConflict},
		{"unavailable", store.Errorf(ErrUnavailable, "not ready"), http.StatusServiceUnavailable},
		{"bad request made from a not found", store.Errorf(ErrBadRequest, "%w", notFound), http.StatusBadRequest},
		{"unavailable made from a bad request", store.Errorf(ErrUnavailable, "%w", store.Errorf(ErrBadRequest, "x")),
			http.StatusServiceUnavailable},
		{"wrapped with fmt", fmt.Errorf("backup: %w", notFound), http.StatusNotFound},
		{"no kind", errors.New("disk full"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeError(rec, tc.err)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
			var body ErrorResponse
			if err := json.NewDecoder(rec.Body).Decode(&body); err != nil || body.Message != tc.err.Error() {
				t.Fatalf("body %+v (%v), want message %q", body, err, tc.err.Error())
			}
		})
	}
}
