package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

// netBackend serves reads from a store and records network removals.
type netBackend struct {
	Backend
	st      *store.Store
	removed []string
	rmErr   error
}

func (b *netBackend) Store(context.Context) (*store.Store, error) { return b.st, nil }

func (b *netBackend) RemoveNetwork(_ context.Context, id string) error {
	if b.rmErr != nil {
		return b.rmErr
	}
	b.removed = append(b.removed, id)
	return nil
}

func newNetBackend(t *testing.T) *netBackend {
	t.Helper()
	st := store.New()
	l := &store.Local{Store: st}
	var changes []store.Change
	for _, n := range []struct{ id, name string }{{"aaa111", "front"}, {"aaa222", "back"}, {"bbb333", "sw_default"}} {
		changes = append(changes, store.Change{CreateNetwork: &types.Network{ID: n.id, Spec: types.NetworkSpec{Name: n.name, Driver: "overlay"}}})
	}
	if err := l.Propose(context.Background(), &store.Command{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	return &netBackend{st: st}
}

func request(t *testing.T, b Backend, method, path string) (int, []byte) {
	t.Helper()
	srv := NewServer(b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec := httptest.NewRecorder()
	srv.http.Handler.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.Bytes()
}

// TestNetworkRoutes: list, find by ID, name or prefix, and remove by any
// of them (the backend gets the ID); errors keep their status.
func TestNetworkRoutes(t *testing.T) {
	b := newNetBackend(t)
	code, body := request(t, b, http.MethodGet, "/v1/networks")
	var all []*types.Network
	if code != http.StatusOK || json.Unmarshal(body, &all) != nil || len(all) != 3 {
		t.Fatalf("GET /v1/networks: %d %s", code, body)
	}
	tests := []struct {
		method, path string
		status       int
		want         string // the network's ID, or a substring of the error
	}{
		{http.MethodGet, "/v1/networks/aaa111", http.StatusOK, "aaa111"},
		{http.MethodGet, "/v1/networks/back", http.StatusOK, "aaa222"},
		{http.MethodGet, "/v1/networks/bb", http.StatusOK, "bbb333"},
		{http.MethodGet, "/v1/networks/nosuch", http.StatusNotFound, "no such network: nosuch"},
		{http.MethodGet, "/v1/networks/aaa", http.StatusInternalServerError, "ambiguous"},
		{http.MethodDelete, "/v1/networks/front", http.StatusOK, "aaa111"},
		{http.MethodDelete, "/v1/networks/aaa2", http.StatusOK, "aaa222"},
		{http.MethodDelete, "/v1/networks/nosuch", http.StatusNotFound, "no such network: nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			b.removed = nil
			code, body := request(t, b, tt.method, tt.path)
			if code != tt.status {
				t.Fatalf("%d %s, want %d", code, body, tt.status)
			}
			if code != http.StatusOK {
				var e ErrorResponse
				if json.Unmarshal(body, &e) != nil || !strings.Contains(e.Message, tt.want) {
					t.Fatalf("error %s, want %q", body, tt.want)
				}
				if len(b.removed) != 0 {
					t.Fatalf("removed %v", b.removed)
				}
				return
			}
			if tt.method == http.MethodDelete {
				if len(b.removed) != 1 || b.removed[0] != tt.want {
					t.Fatalf("removed %v, want %s", b.removed, tt.want)
				}
				return
			}
			var n types.Network
			if json.Unmarshal(body, &n) != nil || n.ID != tt.want {
				t.Fatalf("got %s, want network %s", body, tt.want)
			}
		})
	}
	b.rmErr = store.Errorf(store.ErrInUse, "network front is in use by service(s) web")
	if code, body := request(t, b, http.MethodDelete, "/v1/networks/front"); code != http.StatusConflict ||
		!strings.Contains(string(body), "in use by service(s) web") {
		t.Fatalf("DELETE of a network in use: %d %s", code, body)
	}
}
