package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sw/cluster/consensus"
	"sw/cluster/consensus/consensustest"
	"sw/cluster/forward"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// peerFixture is a leader's peer handlers over a one-voter Raft ("n1")
// whose store has a manager, a worker, a demoted manager and a removed
// node, with requests made as if over TLS with a node certificate.
type peerFixture struct {
	h  *peerHandlers
	ca *pki.CA
}

func newPeerFixture(t *testing.T) *peerFixture {
	t.Helper()
	r, st := openRaft(t, true)
	ca, err := pki.NewRootCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	node := func(id string, role types.NodeRole) store.Change {
		return store.Change{PutNode: &types.Node{ID: id, Hostname: id, Role: role, State: types.NodeReady, Availability: types.AvailabilityActive}}
	}
	cmd := &store.Command{Changes: []store.Change{
		{PutCluster: &types.Cluster{ID: "c1", RemovedNodes: []string{"gone"}}},
		node("n1", types.RoleManager), node("wrk", types.RoleWorker), node("demoted", types.RoleWorker),
		node("mgr2", types.RoleManager),
	}}
	if err := r.Propose(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	fwd := forward.New(r, st, peer.NewClient(&peer.Dialer{}))
	sw := &swarm{id: &identity{NodeID: "n1"}, raft: r, store: st, proposer: fwd, catchUp: fwd.CatchUp, ready: make(chan struct{})}
	sw.markReady()
	d := &Daemon{log: slog.New(slog.DiscardHandler)}
	return &peerFixture{h: &peerHandlers{d: d, sw: sw}, ca: ca}
}

// request makes a request from a node certificate (nodeID, role); an
// empty nodeID sends none.
func (f *peerFixture) request(t *testing.T, method, path, nodeID, role, body string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.TLS = &tls.ConnectionState{}
	if nodeID == "" {
		return req
	}
	certPEM, _, err := f.ca.IssueNodeCert(nodeID, role, "c1", []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	req.TLS.VerifiedChains = [][]*x509.Certificate{{cert, f.ca.Cert}}
	return req
}

// TestPeerRoutesAuthorise: each route takes only the callers it needs,
// judged on the store, not on what the certificate says alone.
func TestPeerRoutesAuthorise(t *testing.T) {
	f := newPeerFixture(t)
	ok := func(w http.ResponseWriter, _ *http.Request, _ pki.NodeIdentity) { w.WriteHeader(http.StatusOK) }
	cases := []struct {
		name    string
		handler func(func(http.ResponseWriter, *http.Request, pki.NodeIdentity)) http.HandlerFunc
		nodeID  string
		role    string
		want    int
		msg     string
	}{
		{"manager route, a manager", f.h.managerOnly, "mgr2", pki.RoleManager, 200, ""},
		{"manager route, no certificate", f.h.managerOnly, "", "", 403, "only managers"},
		{"manager route, a worker", f.h.managerOnly, "wrk", pki.RoleWorker, 403, "only managers"},
		{"manager route, a demoted manager's certificate", f.h.managerOnly, "demoted", pki.RoleManager, 403, "not a manager of this swarm"},
		{"manager route, a removed node", f.h.managerOnly, "gone", pki.RoleManager, 403, "was removed"},
		{"manager route, a node the swarm does not have", f.h.managerOnly, "stranger", pki.RoleManager, 403, "not part of this swarm"},
		{"node route, a worker", f.h.nodeOnly, "wrk", pki.RoleWorker, 200, ""},
		{"node route, a demoted manager", f.h.nodeOnly, "demoted", pki.RoleManager, 200, ""},
		{"node route, no certificate", f.h.nodeOnly, "", "", 403, "a node certificate is required"},
		{"node route, a removed node", f.h.nodeOnly, "gone", pki.RoleWorker, 403, "was removed"},
		{"node route, a node the swarm does not have", f.h.nodeOnly, "stranger", pki.RoleWorker, 403, "not part of this swarm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.handler(ok)(rec, f.request(t, http.MethodGet, "/x", tc.nodeID, tc.role, ""))
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Fatalf("status %d body %q, want %d with %q", rec.Code, rec.Body.String(), tc.want, tc.msg)
			}
		})
	}
}

// TestRaftJoinAndLeaveForOthers: a manager may add or take out only
// itself; naming another needs a member of the Raft configuration (a
// follower passing a request on).
func TestRaftJoinAndLeaveForOthers(t *testing.T) {
	f := newPeerFixture(t)
	body := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	cases := []struct {
		name   string
		caller string // a manager certificate
		path   string
		body   string
		want   int
		msg    string
	}{
		{"raft join for another node, from a manager not in Raft", "mgr2", peer.PathRaftJoin,
			body(peer.RaftJoinRequest{NodeID: "n1", Addr: "10.9.9.9:2377"}), 403, "may only add itself"},
		{"raft join of a worker, from the member", "n1", peer.PathRaftJoin,
			body(peer.RaftJoinRequest{NodeID: "wrk", Addr: "10.9.9.9:2377"}), 403, "not a manager"},
		{"raft join with no address", "mgr2", peer.PathRaftJoin, body(peer.RaftJoinRequest{NodeID: "mgr2"}), 400, "Addr"},
		{"leave for another node, from a manager not in Raft", "mgr2", peer.PathLeave + "?node=n1", "", 403, "only take itself out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := f.request(t, http.MethodPost, tc.path, tc.caller, pki.RoleManager, tc.body)
			if strings.HasPrefix(tc.path, peer.PathRaftJoin) {
				f.h.managerOnly(f.h.raftJoin)(rec, req)
			} else {
				f.h.managerOnly(f.h.leave)(rec, req)
			}
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Fatalf("status %d body %q, want %d with %q", rec.Code, rec.Body.String(), tc.want, tc.msg)
			}
		})
	}
	if servers, err := f.h.sw.raft.Servers(); err != nil || len(servers) != 1 || servers[0].Addr == "10.9.9.9:2377" {
		t.Fatalf("the Raft configuration changed: %+v, %v", servers, err)
	}
}

func freeTCPAddr(t *testing.T) string { return consensustest.FreeAddr(t) }

func openRaft(t *testing.T, bootstrap bool) (*consensus.Node, *store.Store) {
	return consensustest.Open(t, bootstrap)
}
