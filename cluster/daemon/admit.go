package daemon

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"sw/cluster/consensus"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// join admits a node that shows a valid join token: it gets an ID, a
// certificate for the token's role, and a record in the store.
func (h *peerHandlers) join(w http.ResponseWriter, r *http.Request) {
	var req peer.JoinRequest
	if err := readJSON(r, &req); err != nil {
		peerError(w, http.StatusBadRequest, peer.ErrorBody{Message: err.Error(), Code: codeBadRequest})
		return
	}
	select {
	case <-h.sw.ready:
	case <-time.After(readyTimeout):
		peerFail(w, errNoLeader)
		return
	}
	c := h.sw.store.View().Cluster()
	role, err := roleForToken(c, req.Token)
	if err != nil {
		peerError(w, http.StatusForbidden, peer.ErrorBody{Message: err.Error(), Code: codeForbidden})
		return
	}
	n := &types.Node{ID: types.NewID(), Hostname: req.Hostname, Role: role, Availability: types.AvailabilityActive,
		State: types.NodeReady, Addr: hostOf(req.AdvertiseAddr), EngineVersion: req.EngineVersion, OS: req.OS, Arch: req.Arch}
	if role == types.RoleManager {
		n.ManagerAddr = req.AdvertiseAddr
	}
	certPEM, err := h.d.sign(c, req.CSR, n.ID, string(role), n.Addr)
	if err != nil {
		peerError(w, http.StatusBadRequest, peer.ErrorBody{Message: err.Error(), Code: codeBadRequest})
		return
	}
	if err := h.sw.proposer.Propose(r.Context(), &store.Command{Changes: []store.Change{{PutNode: n}}}); err != nil {
		peerFail(w, err)
		return
	}
	peerOK(w, peer.JoinResponse{NodeID: n.ID, ClusterID: c.ID, Role: string(role), CertPEM: certPEM,
		CAPEM: c.RootCA.CertPEM, GossipKey: c.GossipKey, Managers: h.d.managerAddrs(h.sw)})
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
	if err := h.d.removeVoter(ctx, h.sw, target); err != nil {
		peerFail(w, err)
		return
	}
	peerOK(w, struct{}{})
}

// removeVoter takes a manager out of Raft, asking the leader if need be.
func (d *Daemon) removeVoter(ctx context.Context, sw *swarm, nodeID string) error {
	err := sw.raft.RemoveServer(ctx, nodeID)
	if !isNotLeader(err) {
		return err
	}
	addr, _ := sw.raft.Leader()
	if addr == "" {
		return errNoLeader
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
