package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rejectNode returns a Check that refuses one node ID, as a removed-node
// hook would.
func rejectNode(nodeID string) Check {
	return func(id NodeIdentity) error {
		if id.NodeID == nodeID {
			return fmt.Errorf("node %s was removed", nodeID)
		}
		return nil
	}
}

func TestTLSHandshakes(t *testing.T) {
	now := time.Now()
	ca, otherCA := newCA(t, now), newCA(t, now)
	mgr := nodeKeyPair(t, ca, "mgr1", RoleManager, "cluster1")
	wrk := nodeKeyPair(t, ca, "wrk1", RoleWorker, "cluster1")
	wrk2 := nodeKeyPair(t, ca, "wrk2", RoleWorker, "cluster1")
	mgr2 := nodeKeyPair(t, ca, "mgr2", RoleManager, "cluster1")
	mgrOtherCluster := nodeKeyPair(t, ca, "mgr9", RoleManager, "cluster9")
	wrkOtherCluster := nodeKeyPair(t, ca, "wrk9", RoleWorker, "cluster9")
	foreignMgr := nodeKeyPair(t, otherCA, "mgr1", RoleManager, "cluster1")
	foreignWrk := nodeKeyPair(t, otherCA, "wrk1", RoleWorker, "cluster1")

	tokStr, _ := NewJoinToken(ca.Cert.Raw)
	tok, _ := ParseJoinToken(tokStr)
	otherTokStr, _ := NewJoinToken(otherCA.Cert.Raw)
	otherTok, _ := ParseJoinToken(otherTokStr)

	tests := []struct {
		name       string
		server     *tls.Config
		client     *tls.Config
		ok         bool
		wantErr    string        // in either side's error, if !ok
		serverSees *NodeIdentity // the client's identity, if ok
		clientSees *NodeIdentity // the server's identity, if ok
	}{
		{
			name:       "mutual TLS, worker to manager",
			server:     ServerTLS(ca.Cert, mgr, true),
			client:     ClientTLS(ca.Cert, &wrk),
			ok:         true,
			serverSees: &NodeIdentity{NodeID: "wrk1", Role: RoleWorker, ClusterID: "cluster1"},
			clientSees: &NodeIdentity{NodeID: "mgr1", Role: RoleManager, ClusterID: "cluster1"},
		},
		{
			name:       "mutual TLS, manager to manager",
			server:     ServerTLS(ca.Cert, mgr, true),
			client:     ClientTLS(ca.Cert, &mgr2),
			ok:         true,
			serverSees: &NodeIdentity{NodeID: "mgr2", Role: RoleManager, ClusterID: "cluster1"},
			clientSees: &NodeIdentity{NodeID: "mgr1", Role: RoleManager, ClusterID: "cluster1"},
		},
		{
			name:    "manager of another cluster under the same CA",
			server:  ServerTLS(ca.Cert, mgr, true),
			client:  ClientTLS(ca.Cert, &mgrOtherCluster),
			wantErr: "belongs to cluster",
		},
		{
			name:    "nil check is ignored, cluster check still applies",
			server:  ServerTLS(ca.Cert, mgrOtherCluster, true, nil),
			client:  ClientTLS(ca.Cert, &wrk, nil),
			wantErr: "belongs to cluster",
		},
		{
			name:    "client certificate from another CA",
			server:  ServerTLS(ca.Cert, mgr, true),
			client:  ClientTLS(ca.Cert, &foreignWrk),
			wantErr: "certificate signed by unknown authority",
		},
		{
			name:    "server certificate from another CA",
			server:  ServerTLS(otherCA.Cert, foreignMgr, true),
			client:  ClientTLS(ca.Cert, &wrk),
			wantErr: "certificate signed by unknown authority",
		},
		{
			name:    "server is a worker",
			server:  ServerTLS(ca.Cert, wrk2, true),
			client:  ClientTLS(ca.Cert, &wrk),
			wantErr: "not swarm-manager",
		},
		{
			name:    "client of another cluster under the same CA",
			server:  ServerTLS(ca.Cert, mgr, true),
			client:  ClientTLS(ca.Cert, &wrkOtherCluster),
			wantErr: "belongs to cluster",
		},
		{
			name:    "no client certificate, certificate required",
			server:  ServerTLS(ca.Cert, mgr, true),
			client:  ClientTLS(ca.Cert, nil),
			wantErr: "didn't provide a certificate",
		},
		{
			name:       "no client certificate, join endpoint",
			server:     ServerTLS(ca.Cert, mgr, false),
			client:     ClientTLS(ca.Cert, nil),
			ok:         true,
			clientSees: &NodeIdentity{NodeID: "mgr1", Role: RoleManager, ClusterID: "cluster1"},
		},
		{
			name:       "join endpoint still verifies a given certificate",
			server:     ServerTLS(ca.Cert, mgr, false),
			client:     ClientTLS(ca.Cert, &wrk),
			ok:         true,
			serverSees: &NodeIdentity{NodeID: "wrk1", Role: RoleWorker, ClusterID: "cluster1"},
		},
		{
			name:    "join endpoint refuses a foreign certificate",
			server:  ServerTLS(ca.Cert, mgr, false),
			client:  ClientTLS(ca.Cert, &foreignWrk),
			wantErr: "certificate signed by unknown authority",
		},
		{
			name:    "server refuses a removed node",
			server:  ServerTLS(ca.Cert, mgr, true, rejectNode("wrk1")),
			client:  ClientTLS(ca.Cert, &wrk),
			wantErr: "node wrk1 was removed",
		},
		{
			name:       "server hook lets other nodes in",
			server:     ServerTLS(ca.Cert, mgr, true, rejectNode("wrk1")),
			client:     ClientTLS(ca.Cert, &wrk2),
			ok:         true,
			serverSees: &NodeIdentity{NodeID: "wrk2", Role: RoleWorker, ClusterID: "cluster1"},
		},
		{
			name:    "client refuses a removed manager",
			server:  ServerTLS(ca.Cert, mgr, true),
			client:  ClientTLS(ca.Cert, &wrk, rejectNode("mgr1")),
			wantErr: "node mgr1 was removed",
		},
		{
			name:       "node-pinned, manager to a worker",
			server:     ServerTLS(ca.Cert, wrk, true),
			client:     NodeClientTLS(ca.Cert, &mgr, "wrk1"),
			ok:         true,
			serverSees: &NodeIdentity{NodeID: "mgr1", Role: RoleManager, ClusterID: "cluster1"},
			clientSees: &NodeIdentity{NodeID: "wrk1", Role: RoleWorker, ClusterID: "cluster1"},
		},
		{
			name:       "node-pinned, manager to a manager",
			server:     ServerTLS(ca.Cert, mgr2, true),
			client:     NodeClientTLS(ca.Cert, &mgr, "mgr2"),
			ok:         true,
			clientSees: &NodeIdentity{NodeID: "mgr2", Role: RoleManager, ClusterID: "cluster1"},
		},
		{
			name:    "node-pinned, another node answers",
			server:  ServerTLS(ca.Cert, wrk2, true),
			client:  NodeClientTLS(ca.Cert, &mgr, "wrk1"),
			wantErr: "certificate is valid for",
		},
		{
			name:    "node-pinned, the node of another cluster",
			server:  ServerTLS(ca.Cert, wrkOtherCluster, false),
			client:  NodeClientTLS(ca.Cert, &mgr, "wrk9"),
			wantErr: "belongs to cluster",
		},
		{
			name:    "node-pinned, the node under another CA",
			server:  ServerTLS(otherCA.Cert, foreignWrk, false),
			client:  NodeClientTLS(ca.Cert, &mgr, "wrk1"),
			wantErr: "certificate signed by unknown authority",
		},
		{
			name:    "node-pinned, a removed node",
			server:  ServerTLS(ca.Cert, wrk, true),
			client:  NodeClientTLS(ca.Cert, &mgr, "wrk1", rejectNode("wrk1")),
			wantErr: "node wrk1 was removed",
		},
		{
			name:   "join with the right token",
			server: ServerTLS(ca.Cert, mgr, false),
			client: JoinTLS(tok),
			ok:     true,
		},
		{
			name:    "join with another cluster's token",
			server:  ServerTLS(ca.Cert, mgr, false),
			client:  JoinTLS(otherTok),
			wantErr: "the manager's CA does not match the join token",
		},
		{
			name:    "join to a manager that does not send its CA",
			server:  ServerTLS(ca.Cert, tls.Certificate{Certificate: mgr.Certificate[:1], PrivateKey: mgr.PrivateKey}, false),
			client:  JoinTLS(tok),
			wantErr: "the manager's CA does not match the join token",
		},
		{
			name:    "join to a worker",
			server:  ServerTLS(ca.Cert, wrk2, false),
			client:  JoinTLS(tok),
			wantErr: "is not a manager",
		},
		{
			name:    "join to a manager, certificate required",
			server:  ServerTLS(ca.Cert, mgr, true),
			client:  JoinTLS(tok),
			wantErr: "certificate required",
		},
		{
			name:   "TLS 1.1 refused",
			server: ServerTLS(ca.Cert, mgr, false),
			client: func() *tls.Config {
				c := ClientTLS(ca.Cert, nil)
				c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
				return c
			}(),
			wantErr: "unsupported versions",
		},
		{
			name:   "TLS 1.2 accepted",
			server: ServerTLS(ca.Cert, mgr, true),
			client: func() *tls.Config {
				c := ClientTLS(ca.Cert, &wrk)
				c.MaxVersion = tls.VersionTLS12
				return c
			}(),
			ok:         true,
			serverSees: &NodeIdentity{NodeID: "wrk1", Role: RoleWorker, ClusterID: "cluster1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := handshake(t, tc.server, tc.client)
			if !tc.ok {
				if r.ok() {
					t.Fatalf("handshake succeeded, want failure")
				}
				msg := fmt.Sprint(r.serverErr, " / ", r.clientErr)
				if !strings.Contains(msg, tc.wantErr) {
					t.Errorf("errors %q, want …%s…", msg, tc.wantErr)
				}
				return
			}
			if !r.ok() {
				t.Fatalf("handshake failed: server %v, client %v", r.serverErr, r.clientErr)
			}
			checkSees(t, "server", r.serverState, tc.serverSees)
			checkSees(t, "client", r.clientState, tc.clientSees)
		})
	}
}

// checkSees checks the peer identity one end learned; want nil means the
// end must learn none or is not checked.
func checkSees(t *testing.T, who string, cs tls.ConnectionState, want *NodeIdentity) {
	t.Helper()
	id, ok := IdentityFromConnState(cs)
	if want == nil {
		return
	}
	if !ok {
		t.Fatalf("%s: IdentityFromConnState found none", who)
	}
	id.NotAfter = time.Time{}
	if id != *want {
		t.Errorf("%s sees %+v, want %+v", who, id, *want)
	}
}

func TestJoinEndpointWithoutCertHasNoIdentity(t *testing.T) {
	ca := newCA(t, time.Now())
	mgr := nodeKeyPair(t, ca, "mgr1", RoleManager, "cluster1")
	r := handshake(t, ServerTLS(ca.Cert, mgr, false), ClientTLS(ca.Cert, nil))
	if !r.ok() {
		t.Fatalf("handshake: %v / %v", r.serverErr, r.clientErr)
	}
	if id, ok := IdentityFromConnState(r.serverState); ok {
		t.Errorf("server found identity %+v for a client without certificate", id)
	}
}

func TestJoinTLSThenVerifyCADigest(t *testing.T) {
	ca := newCA(t, time.Now())
	mgr := nodeKeyPair(t, ca, "mgr1", RoleManager, "cluster1")
	s, _ := NewJoinToken(ca.Cert.Raw)
	tok, _ := ParseJoinToken(s)
	r := handshake(t, ServerTLS(ca.Cert, mgr, false), JoinTLS(tok))
	if !r.ok() {
		t.Fatalf("handshake: %v / %v", r.serverErr, r.clientErr)
	}
	got, err := VerifyCADigest(r.clientState.PeerCertificates, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(ca.Cert) {
		t.Errorf("VerifyCADigest returned another certificate")
	}
	// With the CA learnt, the node can now dial with ClientTLS.
	if r := handshake(t, ServerTLS(ca.Cert, mgr, false), ClientTLS(got, nil)); !r.ok() {
		t.Errorf("ClientTLS with the fetched CA: %v / %v", r.serverErr, r.clientErr)
	}
}

func TestVerifyCADigest(t *testing.T) {
	now := time.Now()
	ca, otherCA := newCA(t, now), newCA(t, now)
	_, _, mgr := issue(t, ca, "mgr1", RoleManager, "c1", nil, now, 0)
	_, _, wrk := issue(t, ca, "wrk1", RoleWorker, "c1", nil, now, 0)
	_, _, foreignMgr := issue(t, otherCA, "mgr1", RoleManager, "c1", nil, now, 0)
	tokFor := func(c *CA) Token {
		s, _ := NewJoinToken(c.Cert.Raw)
		tok, _ := ParseJoinToken(s)
		return tok
	}
	tok := tokFor(ca)
	// A certificate that is not a CA but whose digest the token pins.
	notCATok := tokFor(&CA{Cert: wrk})

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		tok     Token
		wantErr string
		isCAMis bool
	}{
		{"right CA", []*x509.Certificate{mgr, ca.Cert}, tok, "", false},
		{"another CA", []*x509.Certificate{foreignMgr, otherCA.Cert}, tok, "the manager's CA does not match the join token", true},
		{"token of another CA", []*x509.Certificate{mgr, ca.Cert}, tokFor(otherCA), "the manager's CA does not match the join token", true},
		{"pinned CA, leaf from another CA", []*x509.Certificate{foreignMgr, ca.Cert}, tok, "does not verify", false},
		{"leaf only", []*x509.Certificate{mgr}, tok, "the manager's CA does not match the join token", true},
		{"CA only", []*x509.Certificate{ca.Cert}, tok, "the manager's CA does not match the join token", true},
		{"empty chain", nil, tok, "no certificate", false},
		{"worker leaf", []*x509.Certificate{wrk, ca.Cert}, tok, "is not a manager", false},
		{"pinned certificate is not a CA", []*x509.Certificate{mgr, wrk}, notCATok, "not a CA", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyCADigest(tc.chain, tc.tok)
			if tc.wantErr == "" {
				if err != nil || !got.Equal(ca.Cert) {
					t.Fatalf("VerifyCADigest = %v, %v; want the CA", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "pki: ") {
				t.Fatalf("err = %v, want pki: …%s…", err, tc.wantErr)
			}
			if errors.Is(err, ErrCAMismatch) != tc.isCAMis {
				t.Errorf("errors.Is(err, ErrCAMismatch) = %v, want %v", !tc.isCAMis, tc.isCAMis)
			}
		})
	}
}

func TestTLSConfigBasics(t *testing.T) {
	ca := newCA(t, time.Now())
	mgr := nodeKeyPair(t, ca, "mgr1", RoleManager, "c1")
	tok, _ := ParseJoinToken("SWMTKN-1-" + ca.Digest() + "-" + strings.Repeat("0", 25))
	tests := []struct {
		name string
		cfg  *tls.Config
		auth tls.ClientAuthType
	}{
		{"server, certificate required", ServerTLS(ca.Cert, mgr, true), tls.RequireAndVerifyClientCert},
		{"server, join endpoint", ServerTLS(ca.Cert, mgr, false), tls.VerifyClientCertIfGiven},
		{"client", ClientTLS(ca.Cert, &mgr), tls.NoClientCert},
		{"join", JoinTLS(tok), tls.NoClientCert},
	}
	for _, tc := range tests {
		if tc.cfg.MinVersion != tls.VersionTLS12 {
			t.Errorf("%s: MinVersion = %x, want TLS 1.2", tc.name, tc.cfg.MinVersion)
		}
		if tc.cfg.ClientAuth != tc.auth {
			t.Errorf("%s: ClientAuth = %v, want %v", tc.name, tc.cfg.ClientAuth, tc.auth)
		}
		if tc.cfg.VerifyConnection == nil {
			t.Errorf("%s: no VerifyConnection", tc.name)
		}
	}
}
