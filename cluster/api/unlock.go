package api

import (
	"context"
	"net/http"
)

// Autolock: `sw swarm unlock` and `sw swarm unlock-key`.

// UnlockRequest is `sw swarm unlock`.
type UnlockRequest struct {
	UnlockKey string `json:"UnlockKey"`
}

// UnlockKeyResponse is `sw swarm unlock-key`.
type UnlockKeyResponse struct {
	UnlockKey string `json:"UnlockKey"`
}

// Unlocker is a Backend that can be locked at rest (autolock).
type Unlocker interface {
	// Unlock gives a locked manager its unlock key.
	Unlock(ctx context.Context, key string) error
	// UnlockKey returns the swarm's unlock key, formatted.
	UnlockKey(ctx context.Context) (string, error)
}

// routeUnlock adds the autolock routes when the backend has them.
func (s *Server) routeUnlock(mux *http.ServeMux) {
	u, ok := s.backend.(Unlocker)
	if !ok {
		return
	}
	mux.HandleFunc("POST /v1/swarm/unlock", func(w http.ResponseWriter, r *http.Request) {
		var req UnlockRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
		if err := u.Unlock(r.Context(), req.UnlockKey); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("GET /v1/swarm/unlockkey", func(w http.ResponseWriter, r *http.Request) {
		key, err := u.UnlockKey(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, UnlockKeyResponse{UnlockKey: key})
	})
}

// Unlock gives a locked manager its unlock key.
func (c *Client) Unlock(ctx context.Context, key string) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/swarm/unlock", nil, UnlockRequest{UnlockKey: key}, nil)
	return err
}

// UnlockKey returns the swarm's unlock key.
func (c *Client) UnlockKey(ctx context.Context) (string, error) {
	var out UnlockKeyResponse
	_, err := c.do(ctx, http.MethodGet, "/v1/swarm/unlockkey", nil, nil, &out)
	return out.UnlockKey, err
}
