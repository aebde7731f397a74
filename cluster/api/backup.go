package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"sw/cluster/backup"
)

// `sw swarm backup` and `sw swarm restore`: the archive travels as the
// response's or the request's body (application/x-tar, cluster/backup's
// format); what describes it, in a header.

// BackupInfo describes a backup the daemon wrote.
type BackupInfo struct {
	NodeID    string `json:"NodeID"`
	ClusterID string `json:"ClusterID"`
	// RaftIndex and RaftTerm are the last log entry the backup holds.
	RaftIndex uint64 `json:"RaftIndex"`
	RaftTerm  uint64 `json:"RaftTerm"`
	// KeySealed says restoring needs the unlock key (autolock was on).
	KeySealed bool `json:"KeySealed"`
	// Size is the archive's size in bytes.
	Size int64 `json:"Size"`
}

// RestoreRequest is `sw swarm restore`; the archive is the body.
type RestoreRequest struct {
	AdvertiseAddr string `json:"AdvertiseAddr,omitempty"`
	ListenAddr    string `json:"ListenAddr,omitempty"`
	// UnlockKey opens a backup taken with autolock on.
	UnlockKey string `json:"-"`
}

// RestoreResponse says what the node became.
type RestoreResponse struct {
	NodeID        string `json:"NodeID"`
	ClusterID     string `json:"ClusterID"`
	AdvertiseAddr string `json:"AdvertiseAddr"`
	RaftIndex     uint64 `json:"RaftIndex"`
	Services      int    `json:"Services"`
	Nodes         int    `json:"Nodes"`
	// OtherManagers are the old swarm's other managers, now no part of
	// it (as after --force-new-cluster): to remove or re-join.
	OtherManagers []string `json:"OtherManagers,omitempty"`
}

// Headers of the backup routes.
const (
	// HeaderBackup carries a BackupInfo as JSON.
	HeaderBackup = "X-Sw-Backup"
	// HeaderUnlockKey carries the unlock key of a sealed backup.
	HeaderUnlockKey = "X-Sw-Unlock-Key"
)

// maxRestoreBody bounds a restore's body: the archive's files and the
// tar headers around them.
const maxRestoreBody = backup.MaxSize + 16<<20

func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	info, data, err := s.backend.Backup(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	b, _ := json.Marshal(info)
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set(HeaderBackup, string(b))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := RestoreRequest{AdvertiseAddr: q.Get("advertise-addr"), ListenAddr: q.Get("listen-addr"),
		UnlockKey: r.Header.Get(HeaderUnlockKey)}
	resp, err := s.backend.Restore(r.Context(), req, http.MaxBytesReader(w, r.Body, maxRestoreBody))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// Backup asks the daemon (a manager) for a backup of its swarm state
// and copies the archive to w.
func (c *Client) Backup(ctx context.Context, w io.Writer) (BackupInfo, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/swarm/backup", nil, nil)
	if err != nil {
		return BackupInfo{}, err
	}
	defer resp.Body.Close()
	var info BackupInfo
	if err := json.Unmarshal([]byte(resp.Header.Get(HeaderBackup)), &info); err != nil {
		return BackupInfo{}, fmt.Errorf("reading the daemon's answer: %w", err)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("receiving the backup: %w", err)
	}
	if n != info.Size {
		return BackupInfo{}, fmt.Errorf("receiving the backup: %d bytes of %d", n, info.Size)
	}
	return info, nil
}

// Restore sends an archive to the daemon (outside any swarm), which
// becomes the single manager of the swarm it holds.
func (c *Client) Restore(ctx context.Context, req RestoreRequest, archive io.Reader) (RestoreResponse, error) {
	q := url.Values{}
	if req.AdvertiseAddr != "" {
		q.Set("advertise-addr", req.AdvertiseAddr)
	}
	if req.ListenAddr != "" {
		q.Set("listen-addr", req.ListenAddr)
	}
	h := http.Header{"Content-Type": {"application/x-tar"}}
	if req.UnlockKey != "" {
		h.Set(HeaderUnlockKey, req.UnlockKey)
	}
	resp, err := c.sendBody(ctx, http.MethodPost, "/v1/swarm/restore", q, archive, h)
	if err != nil {
		return RestoreResponse{}, err
	}
	defer resp.Body.Close()
	var out RestoreResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return RestoreResponse{}, fmt.Errorf("reading the daemon's answer: %w", err)
	}
	return out, nil
}
