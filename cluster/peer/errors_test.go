package peer

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"sw/cluster/api"
	"sw/cluster/consensus"
	"sw/cluster/store"
)

// TestPeerErrorRoundTrip: an error's kind survives EncodeError on the
// leader and DecodeError on the manager that forwarded the write.
func TestPeerErrorRoundTrip(t *testing.T) {
	kinds := []error{store.ErrNameInUse, store.ErrConflict, store.ErrNotFound, api.ErrBadRequest, api.ErrUnavailable}
	cases := []struct {
		name       string
		err        error
		wantStatus int // 0: any error status
		wantCode   string
		wantKind   error // nil: no kind survives
	}{
		{"name in use", store.Errorf(store.ErrNameInUse, "service %q already exists", "web"), 0, CodeNameInUse, store.ErrNameInUse},
		{"conflict", store.Errorf(store.ErrConflict, "service web was changed concurrently; retry"), 0, CodeConflict, store.ErrConflict},
		{"not found", store.Errorf(store.ErrNotFound, "no such service: x"), 0, CodeNotFound, store.ErrNotFound},
		{"not found error type", &store.NotFoundError{Kind: "node", Ref: "n9"}, 0, CodeNotFound, store.ErrNotFound},
		{"bad request", store.Errorf(api.ErrBadRequest, "invalid role"), 0, CodeBadRequest, api.ErrBadRequest},
		{"unavailable", store.Errorf(api.ErrUnavailable, "not ready"), 0, CodeUnavailable, api.ErrUnavailable},
		{"wrapped kind", fmt.Errorf("saving: %w", store.ErrConflict), 0, CodeConflict, store.ErrConflict},
		{"not leader", consensus.ErrNotLeader, http.StatusServiceUnavailable, CodeNotLeader, nil},
		{"wrapped not leader", fmt.Errorf("propose: %w", consensus.ErrNotLeader), http.StatusServiceUnavailable, CodeNotLeader, nil},
		{"no kind", errors.New("disk full"), http.StatusInternalServerError, "", nil},
		// A kind error keeps its cause; the outer kind still decides the code.
		{"bad request made from a not found", store.Errorf(api.ErrBadRequest, "%w", store.Errorf(store.ErrNotFound, "network x not found")),
			http.StatusBadRequest, CodeBadRequest, api.ErrBadRequest},
		{"unavailable made from not leader", store.Errorf(api.ErrUnavailable, "%w", consensus.ErrNotLeader),
			http.StatusServiceUnavailable, CodeUnavailable, api.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := EncodeError(tc.err)
			if (tc.wantStatus != 0 && status != tc.wantStatus) || status < 400 || body.Code != tc.wantCode || body.Message != tc.err.Error() {
				t.Fatalf("EncodeError = %d %+v; want %d code %q message %q", status, body, tc.wantStatus, tc.wantCode, tc.err.Error())
			}
			got := DecodeError(&Error{Status: status, Message: body.Message, Code: body.Code})
			if got.Error() != tc.err.Error() {
				t.Fatalf("message %q, want %q", got.Error(), tc.err.Error())
			}
			for _, k := range kinds {
				if errors.Is(got, k) != (k == tc.wantKind) {
					t.Fatalf("errors.Is(result, %v) = %v; want kind %v only", k, errors.Is(got, k), tc.wantKind)
				}
			}
		})
	}
}
