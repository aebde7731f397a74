package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// Backend is what the server needs of the daemon.
type Backend interface {
	Info(ctx context.Context) Info
	Init(ctx context.Context, req InitRequest) (InitResponse, error)
	Leave(ctx context.Context, force bool) error
	Join(ctx context.Context, req JoinRequest) (JoinResponse, error)
	SwarmInfo(ctx context.Context) (Swarm, error)
	UpdateNode(ctx context.Context, ref string, req NodeUpdateRequest) (NodeUpdateResponse, error)
	RemoveNode(ctx context.Context, ref string, force bool) error
	Plugins(ctx context.Context) ([]Plugin, error)
	SetPlugin(ctx context.Context, name string, on bool) error
	UpdateSwarm(ctx context.Context, req SwarmUpdateRequest) error
	// Backup returns an archive of this manager's swarm state.
	Backup(ctx context.Context) (BackupInfo, []byte, error)
	// Restore makes a node outside any swarm the single manager of the
	// swarm an archive holds.
	Restore(ctx context.Context, req RestoreRequest, archive io.Reader) (RestoreResponse, error)
	// Store returns the replicated state, or an error saying why this node
	// cannot serve cluster state (not in a swarm, not a manager).
	Store() (*store.Store, error)
	CreateService(ctx context.Context, spec types.ServiceSpec) (string, error)
	UpdateService(ctx context.Context, id string, version uint64, spec types.ServiceSpec) error
	RemoveService(ctx context.Context, id string) error
	// Logs writes the task's log lines to w, each prefixed, until done.
	Logs(ctx context.Context, t *types.Task, follow bool, tail string, w io.Writer) error
}

// Error kinds mapped to HTTP statuses.
var (
	ErrBadRequest  = errors.New("bad request")
	ErrUnavailable = errors.New("unavailable")
)

// Server serves the API on a unix socket.
type Server struct {
	backend Backend
	log     *slog.Logger
	http    *http.Server
}

// NewServer builds the routes.
func NewServer(b Backend, log *slog.Logger) *Server {
	s := &Server{backend: b, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", s.info)
	mux.HandleFunc("POST /v1/swarm/init", s.init)
	mux.HandleFunc("POST /v1/swarm/leave", s.leave)
	mux.HandleFunc("POST /v1/swarm/join", s.join)
	mux.HandleFunc("GET /v1/swarm", s.swarmInfo)
	mux.HandleFunc("POST /v1/swarm/update", s.updateSwarm)
	mux.HandleFunc("GET /v1/swarm/backup", s.backup)
	mux.HandleFunc("POST /v1/swarm/restore", s.restore)
	mux.HandleFunc("GET /v1/nodes", list(s, (*store.ReadTx).Nodes))
	mux.HandleFunc("GET /v1/nodes/{ref}", get(s, (*store.ReadTx).FindNode))
	mux.HandleFunc("POST /v1/nodes/{ref}/update", s.updateNode)
	mux.HandleFunc("DELETE /v1/nodes/{ref}", s.removeNode)
	mux.HandleFunc("GET /v1/services", list(s, (*store.ReadTx).Services))
	mux.HandleFunc("POST /v1/services", s.createService)
	mux.HandleFunc("GET /v1/services/{ref}", get(s, (*store.ReadTx).FindService))
	mux.HandleFunc("POST /v1/services/{ref}/update", s.updateService)
	mux.HandleFunc("DELETE /v1/services/{ref}", s.removeService)
	mux.HandleFunc("GET /v1/plugins", s.plugins)
	mux.HandleFunc("POST /v1/plugins/{name}/{action}", s.setPlugin)
	mux.HandleFunc("GET /v1/tasks", s.tasks)
	mux.HandleFunc("GET /v1/tasks/{ref}", get(s, (*store.ReadTx).FindTask))
	mux.HandleFunc("GET /v1/logs", s.logs)
	s.routeUnlock(mux)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// ListenUnix opens the socket at path with owner-only permissions.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, errors.New("another sw daemon is already listening on " + path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve serves until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops serving.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, store.ErrNameInUse), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrExists),
		errors.Is(err, store.ErrAddrInUse):
		code = http.StatusConflict
	case errors.Is(err, ErrUnavailable):
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, ErrorResponse{Message: err.Error()})
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		return errors.Join(ErrBadRequest, err)
	}
	return nil
}

// view returns the state for a read, first waiting, when the request asks
// with ?wait=INDEX, until the store has moved past INDEX (a blocking
// query) or 30 s pass.
func (s *Server) view(w http.ResponseWriter, r *http.Request) (*store.ReadTx, bool) {
	st, err := s.backend.Store()
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	if q := r.URL.Query().Get("wait"); q != "" {
		idx, err := strconv.ParseUint(q, 10, 64)
		if err != nil {
			writeError(w, errors.Join(ErrBadRequest, errors.New("wait must be an index")))
			return nil, false
		}
		st.WaitPast(r.Context(), idx, 30*time.Second)
	}
	v := st.View()
	w.Header().Set(HeaderIndex, strconv.FormatUint(v.Index, 10))
	return v, true
}
