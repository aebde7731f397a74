package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"sw/cluster/consensus"
	"sw/cluster/dispatcher"
	"sw/cluster/forward"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/throttle"
	"sw/cluster/types"
)

// peerServer is a node's peer API: on a manager joins, Raft membership,
// forwarded writes, the dispatcher's sessions and status reports, and
// task logs; on a worker task logs only.
type peerServer struct {
	http *http.Server
	done chan struct{} // closed when Serve has returned
}

func (p *peerServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if p.http.Shutdown(ctx) != nil {
		_ = p.http.Close() // cut long polls still open: their callers retry elsewhere
	}
	<-p.done
}

// servePeerMux serves h on a peer mux's API listener until close;
// requests end with ctx.
func servePeerMux(ctx context.Context, ln net.Listener, h http.Handler) *peerServer {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		// A kept-alive connection is judged again at every request, but
		// its handshake (the CA and removed checks) only once: idle ones go.
		IdleTimeout: 90 * time.Second,
		// Requests end with the swarm runtime, so a session held open on a
		// stopping manager returns at once.
		BaseContext: func(net.Listener) context.Context { return ctx }}
	p := &peerServer{http: srv, done: make(chan struct{})}
	go func() { defer close(p.done); _ = srv.Serve(ln) }()
	return p
}

// servePeers starts the peer API on the mux's API listener.
func (d *Daemon) servePeers(ctx context.Context, sw *swarm) *peerServer {
	h := &peerHandlers{d: d, sw: sw, joins: throttle.New(throttle.Config{}), joinSlots: make(chan struct{}, maxJoins)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+peer.PathJoin, h.join)
	mux.HandleFunc("POST "+peer.PathRaftJoin, h.managerOnly(h.raftJoin))
	mux.HandleFunc("POST "+peer.PathPropose, h.managerOnly(h.propose))
	disp := &dispatcher.Server{Store: sw.store, Proposer: sw.proposer, WaitReady: sw.waitReady,
		Managers: func() []string { return d.managerAddrs(sw) }, Beats: &sw.beats, Batcher: sw.reports}
	mux.HandleFunc("GET "+peer.PathSession, h.nodeOnly(disp.Session))
	mux.HandleFunc("POST "+peer.PathHeartbeat, h.nodeOnly(disp.Heartbeat))
	mux.HandleFunc("POST "+peer.PathStatus, h.nodeOnly(disp.Status))
	mux.HandleFunc("POST "+peer.PathRenew, h.nodeOnly(h.renew))
	mux.HandleFunc("POST "+peer.PathLeave, h.managerOnly(h.leave))
	mux.HandleFunc("GET "+peer.PathReadIndex, h.managerOnly(h.readIndex))
	logs := &logsServer{d: d, self: sw.id.NodeID, view: sw.store.View}
	mux.HandleFunc("GET "+peer.PathLogs, h.managerOnly(logs.serve))
	return servePeerMux(ctx, sw.mux.Listener(peer.KindAPI), mux)
}

type peerHandlers struct {
	d  *Daemon
	sw *swarm
	// joins throttles the sources of failed join attempts.
	joins *throttle.Limiter
	// joinSlots bounds the join requests handled at once (nil: no bound):
	// anyone may send one, certificate or not.
	joinSlots chan struct{}
}

// maxJoins is how many join requests a manager handles at once.
const maxJoins = 16

type identityKey struct{}

// nodeOnly admits callers with a node certificate of a current node of
// the swarm (see knownAs).
func (h *peerHandlers) nodeOnly(next func(http.ResponseWriter, *http.Request, pki.NodeIdentity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := callerOf(r)
		if !ok {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: "a node certificate is required", Code: peer.CodeForbidden})
			return
		}
		if err := h.knownAs(r.Context(), id.NodeID, ""); err != nil {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: err.Error(), Code: peer.CodeForbidden})
			return
		}
		next(w, r, id)
	}
}

// callerOf is the node identity in a request's client certificate.
func callerOf(r *http.Request) (pki.NodeIdentity, bool) {
	if r.TLS == nil {
		return pki.NodeIdentity{}, false
	}
	return pki.IdentityFromConnState(*r.TLS)
}

// managerOnly admits callers with a manager certificate of a node the
// swarm still has as a manager: a demoted manager's certificate says
// manager until it expires, but the store says worker.
func (h *peerHandlers) managerOnly(next func(http.ResponseWriter, *http.Request, pki.NodeIdentity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := callerOf(r)
		if !ok || !id.IsManager() {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: "only managers may do this", Code: peer.CodeForbidden})
			return
		}
		if err := h.knownAs(r.Context(), id.NodeID, types.RoleManager); err != nil {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: err.Error(), Code: peer.CodeForbidden})
			return
		}
		next(w, r, id)
	}
}

// knownAs checks that the store has node id, not removed, with the given
// role if one is given. A node this manager's store does not know may be
// one it has not heard of yet: a follower first catches up with the
// leader, then decides.
func (h *peerHandlers) knownAs(ctx context.Context, id string, role types.NodeRole) error {
	v := h.sw.store.View()
	n := v.Node(id)
	if n == nil && !h.sw.raft.IsLeader() && h.sw.catchUp != nil && h.sw.catchUp(ctx) == nil {
		v = h.sw.store.View()
		n = v.Node(id)
	}
	switch {
	case v.Cluster() != nil && v.Cluster().Removed(id):
		return fmt.Errorf("node %s was removed from the swarm", id)
	case n == nil:
		return fmt.Errorf("node %s is not part of this swarm", id)
	case role != "" && n.Role != role:
		return fmt.Errorf("node %s is not a %s of this swarm", id, role)
	}
	return nil
}

// proposeBody is peer.ProposeRequest as the leader reads it: the envelope
// strictly, the command as the Raft log is read (store.DecodeCommand), so
// a forwarded command is understood exactly as its log entry will be.
type proposeBody struct {
	Command json.RawMessage `json:"Command"`
}

// decodePropose reads a forwarded command.
func decodePropose(body io.Reader) (*store.Command, error) {
	var req proposeBody
	if err := peer.DecodeBody(body, &req); err != nil {
		return nil, err
	}
	cmd, err := store.DecodeCommand(req.Command)
	if err != nil {
		return nil, fmt.Errorf("invalid request body: %w", err)
	}
	return cmd, nil
}

// propose applies a command forwarded by another manager (leader only).
func (h *peerHandlers) propose(w http.ResponseWriter, r *http.Request, _ pki.NodeIdentity) {
	cmd, err := decodePropose(http.MaxBytesReader(w, r.Body, peer.MaxBody))
	if err != nil {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: err.Error(), Code: peer.CodeBadRequest})
		return
	}
	idx, err := h.sw.raft.ProposeIndex(r.Context(), cmd)
	if err != nil {
		peer.Fail(w, err)
		return
	}
	peer.Reply(w, peer.ProposeResponse{Index: idx})
}

// readIndex answers a follower's read with the leader's read index
// (leader only).
func (h *peerHandlers) readIndex(w http.ResponseWriter, r *http.Request, _ pki.NodeIdentity) {
	idx, err := h.sw.raft.ReadIndex(r.Context())
	if err != nil {
		peer.Fail(w, err)
		return
	}
	peer.Reply(w, peer.ReadIndexResponse{Index: idx})
}

// raftJoin adds the calling manager as a voter, on the leader (others
// pass the request on).
func (h *peerHandlers) raftJoin(w http.ResponseWriter, r *http.Request, id pki.NodeIdentity) {
	var req peer.RaftJoinRequest
	if err := peer.ReadJSON(w, r, &req); err != nil {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: "bad raft join request: " + err.Error(), Code: peer.CodeBadRequest})
		return
	}
	if req.NodeID == "" || req.Addr == "" {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: "bad raft join request: NodeID and Addr are required", Code: peer.CodeBadRequest})
		return
	}
	// A manager asks for itself; only a member of the Raft configuration
	// (a follower passing the request on) may ask for another. The node to
	// add must be a manager of the swarm either way.
	if req.NodeID != id.NodeID {
		if member, _ := h.sw.raft.Member(id.NodeID); !member {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: "bad raft join request: a manager may only add itself", Code: peer.CodeForbidden})
			return
		}
	}
	if err := h.knownAs(r.Context(), req.NodeID, types.RoleManager); err != nil {
		peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: err.Error(), Code: peer.CodeForbidden})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err := h.sw.raft.AddVoter(ctx, req.NodeID, req.Addr)
	if errors.Is(err, consensus.ErrNotLeader) {
		// The leader adds it and records its address.
		addr, _ := h.sw.raft.Leader()
		if addr == "" {
			peer.Fail(w, forward.ErrNoLeader)
			return
		}
		if err := h.sw.peers.Do(ctx, addr, http.MethodPost, peer.PathRaftJoin, nil, req, nil); err != nil {
			peer.Fail(w, err)
			return
		}
		peer.Reply(w, struct{}{})
		return
	}
	if err != nil {
		peer.Fail(w, err)
		return
	}
	if err := h.recordManagerAddr(ctx, req); err != nil {
		peer.Fail(w, err)
		return
	}
	peer.Reply(w, struct{}{})
}

// recordManagerAddr notes where a (new or promoted) manager listens.
func (h *peerHandlers) recordManagerAddr(ctx context.Context, req peer.RaftJoinRequest) error {
	n := h.sw.store.View().Node(req.NodeID)
	if n == nil || n.ManagerAddr == req.Addr {
		return nil
	}
	return h.sw.proposer.Propose(ctx, &store.Command{Changes: []store.Change{{UpdateNode: &store.NodeUpdate{NodeID: req.NodeID, ManagerAddr: req.Addr}}}})
}

// renew signs a new certificate for the caller, for the role the store
// gives it now.
func (h *peerHandlers) renew(w http.ResponseWriter, r *http.Request, id pki.NodeIdentity) {
	var req peer.RenewRequest
	if err := peer.ReadJSON(w, r, &req); err != nil {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: err.Error(), Code: peer.CodeBadRequest})
		return
	}
	v := h.sw.store.View()
	n, c := v.Node(id.NodeID), v.Cluster()
	if n == nil || c == nil {
		peer.Fail(w, &store.NotFoundError{Kind: "node", Ref: id.NodeID})
		return
	}
	certPEM, err := h.d.sign(c, req.CSR, n.ID, string(n.Role), n.Addr)
	if err != nil {
		peer.Fail(w, err)
		return
	}
	peer.Reply(w, peer.RenewResponse{CertPEM: certPEM, Role: string(n.Role)})
}

// sign issues a node certificate with the cluster's CA.
func (d *Daemon) sign(c *types.Cluster, csrPEM []byte, nodeID, role, addr string) ([]byte, error) {
	ca, err := pki.LoadCA(c.RootCA.CertPEM, c.RootCA.KeyPEM)
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	if ip := net.ParseIP(addr); ip != nil {
		ips = append(ips, ip)
	}
	return ca.SignCSR(csrPEM, nodeID, role, c.ID, ips, time.Now(), c.CertExpiry)
}
