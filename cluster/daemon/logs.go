package daemon

// The logs of tasks on other nodes. A manager asked for a service's logs
// reads the tasks it runs itself from its own engine; every other task's
// log it asks of the node that runs it, over the peer port (PathLogs),
// which every node serves — workers too, on a listener of their own that
// serves nothing else and admits only the managers of the swarm.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"

	"sw/cluster/api"
	"sw/cluster/backoff"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// peerLogsTimeout bounds the opening of a task's log stream on another
// node: the dial, the TLS handshake and the answer's headers. (A
// variable, for tests.)
var peerLogsTimeout = 5 * time.Second

// workerListenRetry is how often a worker tries again to open its peer
// port when it could not (jittered: between half of it and all of it).
const workerListenRetry = 10 * time.Second

// errNodeDown is a task's logs asked of a node the swarm has as down.
var errNodeDown = errors.New("node is down")

// localLogs writes the log of a task whose container is on this node's
// engine. A container that is gone (a task of the past) has nothing to
// show: that is no error.
func (d *Daemon) localLogs(ctx context.Context, t *types.Task, hostname string, follow bool, tail string, w io.Writer) error {
	rc, err := d.exec.Logs(ctx, t.Status.ContainerID, follow, tail)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the container's log: %w", err)
	}
	defer rc.Close()
	return copyLogs(w, rc, logPrefix(t, hostname))
}

// logPrefix is the prefix of a task's log lines, as Docker's:
// "<service>.<slot>.<task id>@<node>    | ".
func logPrefix(t *types.Task, hostname string) string {
	return logName(t) + "@" + hostname + "    | "
}

// logName names a task in its log lines: "<service>.<slot>.<task id>".
func logName(t *types.Task) string {
	id := t.ID
	if len(id) > 12 {
		id = id[:12]
	}
	return t.Name() + "." + id
}

// copyLogs demultiplexes a container's log stream (stdout and stderr,
// see stdcopy) into w, as whole lines each with prefix.
func copyLogs(w io.Writer, rc io.Reader, prefix string) error {
	pw := &prefixWriter{prefix: prefix, w: w}
	_, err := stdcopy.StdCopy(pw, pw, rc)
	pw.flush()
	return err
}

// remoteLogs streams into w the log of a task that runs on another node,
// from that node: nothing if the node is down (an error says so), or
// cannot be reached within peerLogsTimeout.
func (d *Daemon) remoteLogs(ctx context.Context, sw *swarm, t *types.Task, follow bool, tail string, w io.Writer) error {
	n := sw.store.View().Node(t.NodeID)
	if n == nil {
		return fmt.Errorf("node %s is not part of the swarm any more", t.NodeID)
	}
	if n.State == types.NodeDown {
		return errNodeDown
	}
	addr, err := peerAddrOf(n)
	if err != nil {
		return err
	}
	cl := peer.NewClient(&peer.Dialer{TLS: func() *tls.Config { return sw.nodeClientTLS(n.ID) }})
	defer cl.CloseIdle()
	q := url.Values{"task": {t.ID}}
	if follow {
		q.Set("follow", "1")
	}
	if tail != "" {
		q.Set("tail", tail)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(peerLogsTimeout, cancel)
	rc, err := cl.Stream(sctx, addr, peer.PathLogs, q)
	if !timer.Stop() && ctx.Err() == nil {
		if rc != nil {
			rc.Close()
		}
		return fmt.Errorf("node unreachable at %s: no answer in %s", addr, peerLogsTimeout)
	}
	var pe *peer.Error
	var ue *url.Error
	switch {
	case peer.IsCode(err, peer.CodeNotFound):
		return nil // the node has no such container (any more): nothing to show, as here
	case errors.As(err, &pe):
		return fmt.Errorf("node %s refused: %w", addr, err)
	case errors.As(err, &ue):
		return fmt.Errorf("node unreachable at %s: %w", addr, ue.Err)
	case err != nil:
		return fmt.Errorf("node unreachable at %s: %w", addr, err)
	}
	defer rc.Close()
	if err := copyLines(w, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("the log stream from %s broke: %w", addr, err)
	}
	return nil
}

// maxLogLine is the longest line copyLines hands on whole; a longer one
// goes in pieces of this size.
const maxLogLine = 64 << 10

// copyLines copies a node's log stream into w one line per Write, so that
// the lines of tasks streamed at once never mix. A line that would pass
// for an error line of the API's stream (api.LogErrorMark) is dropped: a
// node sends log lines only.
func copyLines(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && !strings.HasPrefix(string(line), api.LogErrorMark) {
			if _, werr := w.Write(line); werr != nil {
				return werr
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
	}
}

// peerAddrOf is where a node's peer port answers: a manager's recorded
// control address, else the advertised address it joined with, else (a
// record from before that was kept) its address on the default port.
func peerAddrOf(n *types.Node) (string, error) {
	var addrs []string
	if n.Role == types.RoleManager {
		addrs = append(addrs, n.ManagerAddr)
	}
	for _, a := range append(addrs, n.PeerAddr) {
		if host, port, err := net.SplitHostPort(a); err == nil && host != "" && port != "" {
			return a, nil
		}
	}
	if host := strings.Trim(n.Addr, "[]"); host != "" {
		return net.JoinHostPort(host, strconv.Itoa(DefaultControlPort)), nil
	}
	return "", fmt.Errorf("node %s has no address on record", n.ID)
}

// nodeClientTLS is the TLS config for dialing node nodeID itself (of
// either role), with this node's current certificate.
func (sw *swarm) nodeClientTLS(nodeID string) *tls.Config {
	m := sw.tls.Load()
	return pki.NodeClientTLS(m.ca, &m.cert, nodeID)
}

// peerServerTLS is the TLS config of a node's peer port, with its current
// certificate; requireCert refuses clients that show none (everything
// but a manager's join endpoint).
func (sw *swarm) peerServerTLS(requireCert bool) *tls.Config {
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		m := sw.tls.Load()
		return pki.ServerTLS(m.ca, m.cert, requireCert, sw.refuseRemoved), nil
	}}
}

// logsServer serves PathLogs on a node, from the node's own view of the
// swarm: the replicated store on a manager, the mirror of its session on
// a worker. It serves only the tasks that view assigns to this node, and
// reads their containers as this node knows them.
type logsServer struct {
	d    *Daemon
	self string
	view func() *store.ReadTx
}

// serve streams a task's log as prefixed lines, flushed as they come,
// until the log ends (follow: until the caller goes away).
func (l *logsServer) serve(w http.ResponseWriter, r *http.Request, _ pki.NodeIdentity) {
	q := r.URL.Query()
	tail := q.Get("tail")
	if !validTail(tail) {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: fmt.Sprintf("invalid tail %q: want all or a whole number", tail), Code: peer.CodeBadRequest})
		return
	}
	v := l.view()
	t, err := ownTask(v, l.self, q.Get("task"))
	if err != nil {
		peer.Fail(w, err)
		return
	}
	rc, err := l.d.exec.Logs(r.Context(), t.Status.ContainerID, q.Get("follow") == "1", tail)
	if errdefs.IsNotFound(err) {
		peer.Fail(w, &store.NotFoundError{Kind: "container of task", Ref: t.ID})
		return
	}
	if err != nil {
		peer.WriteError(w, http.StatusInternalServerError, peer.ErrorBody{Message: "reading the container's log: " + err.Error()})
		return
	}
	defer rc.Close()
	hostname := l.d.cfg.Hostname
	if n := v.Node(l.self); n != nil && n.Hostname != "" {
		hostname = n.Hostname
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fw := &flushingWriter{w: w, rc: http.NewResponseController(w)}
	_ = fw.rc.Flush()
	if err := copyLogs(fw, rc, logPrefix(t, hostname)); err != nil && r.Context().Err() == nil {
		l.d.log.Debug("peer logs: the stream ended early", "task", t.ID, "err", err)
	}
}

// ownTask is the task id of view v if it is assigned to node self and
// has a container; any other task is not found here.
func ownTask(v *store.ReadTx, self, id string) (*types.Task, error) {
	t := v.Task(id)
	if id == "" || t == nil || t.NodeID != self || t.Status.ContainerID == "" {
		return nil, &store.NotFoundError{Kind: "task on this node", Ref: id}
	}
	return t, nil
}

// validTail reports whether s is a tail Docker takes: "" or "all" (the
// whole log) or a whole number of lines.
func validTail(s string) bool {
	if s == "" || s == "all" {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0
}

// flushingWriter flushes each write, so that a followed log reaches the
// caller line by line. One stream writes to it, from one goroutine.
type flushingWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, f.rc.Flush()
}

// workerPeerAuth is a worker's connection policy: no Raft (a worker runs
// none) and the API only to a manager's certificate (the handshake has
// checked its CA and cluster); the logs route then checks that the swarm
// still has it as a manager (managerIn).
func workerPeerAuth(kind byte, id *pki.NodeIdentity) error {
	switch {
	case kind == peer.KindRaft:
		return errors.New("this node is a worker: it runs no raft")
	case id == nil:
		return errors.New("a manager certificate is required; the peer showed none")
	case !id.IsManager():
		return fmt.Errorf("only managers may call a worker; node %s is a %s", id.NodeID, id.Role)
	}
	return nil
}

// managerIn checks that view v (a worker's, from its session) has node id
// as a manager of the swarm: a demoted manager's certificate says manager
// until it expires, but the swarm says worker.
func managerIn(v *store.ReadTx, id pki.NodeIdentity) error {
	n := v.Node(id.NodeID)
	switch {
	case !id.IsManager():
		return fmt.Errorf("only managers may do this; node %s is a %s", id.NodeID, id.Role)
	case v.Cluster() != nil && v.Cluster().Removed(id.NodeID):
		return fmt.Errorf("node %s was removed from the swarm", id.NodeID)
	case n == nil:
		return fmt.Errorf("node %s is not part of this swarm (as this node knows it)", id.NodeID)
	case n.Role != types.RoleManager:
		return fmt.Errorf("node %s is not a manager of this swarm", id.NodeID)
	}
	return nil
}

// viewManagerOnly admits callers that managerIn admits in view().
func viewManagerOnly(view func() *store.ReadTx, next func(http.ResponseWriter, *http.Request, pki.NodeIdentity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := callerOf(r)
		if !ok {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: "a manager certificate is required", Code: peer.CodeForbidden})
			return
		}
		if err := managerIn(view(), id); err != nil {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: err.Error(), Code: peer.CodeForbidden})
			return
		}
		next(w, r, id)
	}
}

// serveWorkerPeers runs a worker's peer port until ctx ends: on the
// node's listen address, with its certificate, open only to the managers
// of the swarm (workerPeerAuth, then managerIn on the session's view),
// serving only PathLogs for the tasks of its session. If the port cannot
// be had, it tries again every workerListenRetry: the worker runs its
// tasks meanwhile, only their logs cannot be read from a manager.
func (d *Daemon) serveWorkerPeers(ctx context.Context, sw *swarm, mirror *store.Store) {
	var mux *peer.Mux
	retry := backoff.Backoff{Initial: workerListenRetry, Jitter: backoff.Equal}
	for attempt := 0; ; attempt++ {
		var err error
		if mux, err = peer.Listen(sw.id.ListenAddr, sw.peerServerTLS(true), workerPeerAuth, d.log); err == nil {
			break
		}
		if attempt == 0 {
			d.log.Warn("worker: cannot open the peer port; managers cannot read this node's task logs until it opens",
				"addr", sw.id.ListenAddr, "err", err, "retry_every", workerListenRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-retry.After(retry.Next()):
		}
	}
	logs := &logsServer{d: d, self: sw.id.NodeID, view: mirror.View}
	h := http.NewServeMux()
	h.HandleFunc("GET "+peer.PathLogs, viewManagerOnly(mirror.View, logs.serve))
	srv := servePeerMux(ctx, mux.Listener(peer.KindAPI), h)
	<-ctx.Done()
	srv.close()
	_ = mux.Close()
}
