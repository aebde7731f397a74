package daemon

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"sw/cluster/consensus"
	"sw/cluster/forward"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/throttle"
	"sw/cluster/types"
)

// maxJoinBody is the largest join request read: a token, a CSR and a few
// names take a few KB.
const maxJoinBody = 64 << 10

// join admits a node that shows a valid join token: it gets an ID, a
// certificate for the token's role, and a record in the store. A source
// address whose attempts keep failing is throttled (h.joins): its
// requests are refused with 429 before anything in them is looked at.
func (h *peerHandlers) join(w http.ResponseWriter, r *http.Request) {
	src := sourceIP(r.RemoteAddr)
	if ok, wait := h.joins.Allow(src); !ok {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		peer.WriteError(w, http.StatusTooManyRequests, peer.ErrorBody{Code: peer.CodeThrottled,
			Message: fmt.Sprintf("too many failed join attempts from %s: try again in %ds", src, secs)})
		return
	}
	if h.joinSlots != nil {
		select {
		case h.joinSlots <- struct{}{}:
			defer func() { <-h.joinSlots }()
		default:
			peer.WriteError(w, http.StatusServiceUnavailable, peer.ErrorBody{Code: peer.CodeUnavailable,
				Message: fmt.Sprintf("this manager is handling %d joins already: try again shortly", maxJoins)})
			return
		}
	}
	var req peer.JoinRequest
	if err := peer.DecodeBody(http.MaxBytesReader(w, r.Body, maxJoinBody), &req); err != nil {
		h.joinFailed(src, "malformed request", err)
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: err.Error(), Code: peer.CodeBadRequest})
		return
	}
	select {
	case <-h.sw.ready:
	case <-time.After(readyTimeout):
		peer.Fail(w, forward.ErrNoLeader)
		return
	}
	c := h.sw.store.View().Cluster()
	role, err := roleForToken(c, req.Token)
	if err != nil {
		h.joinFailed(src, "bad join token", err)
		peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: err.Error(), Code: peer.CodeForbidden})
		return
	}
	n := &types.Node{ID: types.NewID(), Hostname: req.Hostname, Role: role, Availability: types.AvailabilityActive,
		State: types.NodeReady, Addr: hostOf(req.AdvertiseAddr), EngineVersion: req.EngineVersion, OS: req.OS, Arch: req.Arch,
		DataAddr: req.DataPathAddr, EngineID: req.EngineID, PeerAddr: req.AdvertiseAddr, Liveness: req.Liveness,
		Description: types.NodeDescription{Resources: req.Resources}}
	if req.Liveness != types.LivenessGossip && (req.Liveness != types.LivenessHeartbeat || role == types.RoleManager) {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: fmt.Sprintf("invalid liveness %q: want \"\" (gossip), or \"heartbeat\" for a worker", req.Liveness), Code: peer.CodeBadRequest})
		return
	}
	if req.DataPathAddr != "" && net.ParseIP(req.DataPathAddr).To4() == nil {
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: fmt.Sprintf("invalid data path address %q: want an IPv4 address", req.DataPathAddr), Code: peer.CodeBadRequest})
		return
	}
	if role == types.RoleManager {
		n.ManagerAddr = req.AdvertiseAddr
	}
	certPEM, err := h.d.sign(c, req.CSR, n.ID, string(role), n.Addr)
	if err != nil {
		h.joinFailed(src, "bad certificate request", err)
		peer.WriteError(w, http.StatusBadRequest, peer.ErrorBody{Message: err.Error(), Code: peer.CodeBadRequest})
		return
	}
	if err := h.sw.proposer.Propose(r.Context(), &store.Command{Changes: []store.Change{{PutNode: n}}}); err != nil {
		peer.Fail(w, err)
		return
	}
	peer.Reply(w, peer.JoinResponse{NodeID: n.ID, ClusterID: c.ID, Role: string(role), CertPEM: certPEM,
		CAPEM: c.RootCA.CertPEM, GossipKey: c.GossipKey, Managers: h.d.managerAddrs(h.sw)})
}

// joinFailed logs a refused join attempt and counts it against its
// source.
func (h *peerHandlers) joinFailed(src, reason string, err error) {
	throttled := h.joins.Fail(src)
	h.d.log.Warn("join attempt refused", "source", src, "reason", reason, "err", err)
	if throttled {
		h.d.log.Warn("too many failed join attempts: throttling the source", "source", src,
			"burst", throttle.DefaultBurst, "one_more_every", throttle.DefaultEvery)
	}
}

// sourceIP is the IP address of a request's remote end (its whole
// address if it has no port).
func sourceIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// roleForToken checks a join token against the cluster's current ones.
func roleForToken(c *types.Cluster, token string) (types.NodeRole, error) {
	tok, err := pki.ParseJoinToken(token)
	if err != nil {
		return "", err
	}
	for _, t := range []struct {
		cur  string
		role types.NodeRole
	}{{c.JoinTokens.Worker, types.RoleWorker}, {c.JoinTokens.Manager, types.RoleManager}} {
		if cur, err := pki.ParseJoinToken(t.cur); err == nil && cur.Digest == tok.Digest && pki.SecretEqual(cur.Secret, tok.Secret) {
			return t.role, nil
		}
	}
	return "", fmt.Errorf("invalid join token: it is not a current token of this swarm (was it rotated?)")
}

// leave removes the calling manager from the Raft voters, on the leader.
func (h *peerHandlers) leave(w http.ResponseWriter, r *http.Request, id pki.NodeIdentity) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	target := r.URL.Query().Get("node")
	if target == "" {
		target = id.NodeID
	}
	// A manager takes itself out; only a member of the Raft configuration
	// (a follower passing the request on) may name another.
	if target != id.NodeID {
		if member, _ := h.sw.raft.Member(id.NodeID); !member {
			peer.WriteError(w, http.StatusForbidden, peer.ErrorBody{Message: "a manager may only take itself out of Raft", Code: peer.CodeForbidden})
			return
		}
	}
	if err := h.d.removeVoter(ctx, h.sw, target); err != nil {
		peer.Fail(w, err)
		return
	}
	peer.Reply(w, struct{}{})
}

// removeVoter takes a manager out of Raft, asking the leader if need be.
func (d *Daemon) removeVoter(ctx context.Context, sw *swarm, nodeID string) error {
	err := sw.raft.RemoveServer(ctx, nodeID)
	if !isNotLeader(err) {
		return err
	}
	addr, _ := sw.raft.Leader()
	if addr == "" {
		return forward.ErrNoLeader
	}
	return sw.peers.Do(ctx, addr, http.MethodPost, peer.PathLeave+"?node="+nodeID, nil, nil, nil)
}

func isNotLeader(err error) bool { return errors.Is(err, consensus.ErrNotLeader) }

func remoteAddr(s string) (string, error) {
	host, port, err := splitHostPortDefault(s, DefaultControlPort)
	if err != nil || host == "" {
		return "", fmt.Errorf("invalid manager address %q: want IP[:PORT]", s)
	}
	return net.JoinHostPort(host, port), nil
}

func pemDER(p []byte) []byte {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil
	}
	return b.Bytes
}

func ipsOf(hostport string) []net.IP {
	if ip := net.ParseIP(hostOf(hostport)); ip != nil {
		return []net.IP{ip}
	}
	return nil
}

func resolveTCP(hostport string) (*net.TCPAddr, error) {
	return net.ResolveTCPAddr("tcp", hostport)
}
