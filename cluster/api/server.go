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
	"sync"
	"time"

	"sw/cluster/store"
	"sw/cluster/strictjson"
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
	// Store returns the replicated state, holding at least every write
	// acknowledged before the call, or an error saying why this node cannot
	// serve cluster state (not in a swarm, not a manager, no leader).
	Store(ctx context.Context) (*store.Store, error)
	CreateService(ctx context.Context, spec types.ServiceSpec) (string, error)
	UpdateService(ctx context.Context, id string, version uint64, spec types.ServiceSpec) error
	// RollbackService puts the service's previous spec back, if version
	// is still current.
	RollbackService(ctx context.Context, id string, version uint64) error
	RemoveService(ctx context.Context, id string) error
	// CreateNetwork validates and commits a new network and returns its
	// ID; the leader's allocator gives it its addresses afterwards.
	CreateNetwork(ctx context.Context, spec types.NetworkSpec) (string, error)
	// RemoveNetwork deletes a network no service uses.
	RemoveNetwork(ctx context.Context, id string) error
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
	mux.HandleFunc("GET /v1/service-status", s.serviceStatus)
	mux.HandleFunc("POST /v1/services", s.createService)
	mux.HandleFunc("GET /v1/services/{ref}", get(s, (*store.ReadTx).FindService))
	mux.HandleFunc("POST /v1/services/{ref}/update", s.updateService)
	mux.HandleFunc("POST /v1/services/{ref}/rollback", s.rollbackService)
	mux.HandleFunc("DELETE /v1/services/{ref}", s.removeService)
	mux.HandleFunc("GET /v1/networks", list(s, (*store.ReadTx).Networks))
	mux.HandleFunc("POST /v1/networks", s.createNetwork)
	mux.HandleFunc("GET /v1/networks/{ref}", get(s, (*store.ReadTx).FindNetwork))
	mux.HandleFunc("DELETE /v1/networks/{ref}", s.removeNetwork)
	mux.HandleFunc("GET /v1/plugins", s.plugins)
	mux.HandleFunc("POST /v1/plugins/{name}/{action}", s.setPlugin)
	mux.HandleFunc("GET /v1/tasks", s.tasks)
	mux.HandleFunc("GET /v1/tasks/{ref}", get(s, (*store.ReadTx).FindTask))
	mux.HandleFunc("GET /v1/logs", s.logs)
	s.routeUnlock(mux)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// ListenUnix opens the socket at path, owner-only (0600) from the moment
// it exists there: it is bound inside a fresh directory of its own next
// to path (mode 0700, so nobody else can reach it while its mode still
// depends on the umask), set to 0600, and only then renamed into place.
// Setting a restrictive umask around the bind would do too, but the umask
// is the whole process's: every file other goroutines create meanwhile
// would get it. Closing the listener removes the socket.
func ListenUnix(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, errors.New("another sw daemon is already listening on " + path)
	}
	tmp, err := os.MkdirTemp(dir, ".sw-sock-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, err
	}
	bound := filepath.Join(tmp, "s")
	l, err := net.Listen("unix", bound)
	if err != nil {
		return nil, err
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // it is unlinked at path, below
	if err := os.Chmod(bound, 0o600); err != nil {
		ul.Close()
		return nil, err
	}
	if err := os.Rename(bound, path); err != nil {
		ul.Close()
		return nil, err
	}
	return &unixListener{UnixListener: ul, path: path}, nil
}

// unixListener is a socket renamed into place: it reports, and removes
// when closed, the path it serves at.
type unixListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() { _ = os.Remove(l.path) })
	return err
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
	// The outermost kind decides (store.KindIs): a cause an error keeps
	// does not change its status.
	is := func(kind error) bool { return store.KindIs(err, kind) }
	code := http.StatusInternalServerError
	switch {
	case is(ErrBadRequest):
		code = http.StatusBadRequest
	case is(store.ErrNotFound):
		code = http.StatusNotFound
	case is(store.ErrNameInUse), is(store.ErrConflict), is(store.ErrExists), is(store.ErrAddrInUse), is(store.ErrInUse):
		code = http.StatusConflict
	case is(ErrUnavailable):
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, ErrorResponse{Message: err.Error()})
}

// MaxRequestBytes is the largest request body the API reads.
const MaxRequestBytes = 1 << 20

// decode reads a request body strictly (decodeBody) into v; a mistake in
// it is a bad request whose message says what the mistake is.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(http.MaxBytesReader(w, r.Body, MaxRequestBytes), v)
}

// decodeBody reads exactly one JSON value into v, refusing unknown fields
// at any depth (the service spec decodes itself strictly, as
// types.StrictSpec) and anything after the value.
func decodeBody(body io.Reader, v any) error {
	if err := strictjson.Decode(body, v); err != nil {
		return store.Errorf(ErrBadRequest, "invalid request body: %w", err)
	}
	return nil
}

// view returns the state for a read, first waiting, when the request asks
// with ?wait=INDEX, until the store has moved past INDEX (a blocking
// query) or 30 s pass.
func (s *Server) view(w http.ResponseWriter, r *http.Request) (*store.ReadTx, bool) {
	st, err := s.backend.Store(r.Context())
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
