package pki

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"
)

// testNow is a fixed signing time for tests that do not handshake.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newCA(t *testing.T, now time.Time) *CA {
	t.Helper()
	ca, err := NewRootCA(now)
	if err != nil {
		t.Fatalf("NewRootCA: %v", err)
	}
	return ca
}

// issue returns a node certificate from ca as PEM and parsed.
func issue(t *testing.T, ca *CA, nodeID, role, cluster string, ips []net.IP, now time.Time, expiry time.Duration) ([]byte, []byte, *x509.Certificate) {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueNodeCert(nodeID, role, cluster, ips, now, expiry)
	if err != nil {
		t.Fatalf("IssueNodeCert(%s): %v", nodeID, err)
	}
	c, err := ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, c
}

// nodeKeyPair returns a TLS certificate for a node, chained with its CA.
func nodeKeyPair(t *testing.T, ca *CA, nodeID, role, cluster string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, _ := issue(t, ca, nodeID, role, cluster, []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), 0)
	kp, err := KeyPair(certPEM, keyPEM, ca.Cert)
	if err != nil {
		t.Fatalf("KeyPair: %v", err)
	}
	return kp
}

// handshakeResult is both ends' view of one handshake.
type handshakeResult struct {
	serverErr, clientErr     error
	serverState, clientState tls.ConnectionState
}

func (r handshakeResult) ok() bool { return r.serverErr == nil && r.clientErr == nil }

// handshake runs a TLS handshake over loopback TCP and then a one-byte
// exchange from server to client, so that a refusal by the server after
// the client's side has finished (TLS 1.3 client certificates) still
// reaches the client.
func handshake(t *testing.T, server, client *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)

	var res handshakeResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		raw, err := ln.Accept()
		if err != nil {
			res.serverErr = err
			return
		}
		defer raw.Close()
		raw.SetDeadline(deadline)
		conn := tls.Server(raw, server)
		if res.serverErr = conn.Handshake(); res.serverErr != nil {
			return
		}
		res.serverState = conn.ConnectionState()
		_, res.serverErr = conn.Write([]byte{1})
	}()

	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(deadline)
	conn := tls.Client(raw, client)
	if res.clientErr = conn.Handshake(); res.clientErr == nil {
		res.clientState = conn.ConnectionState()
		var b [1]byte
		_, res.clientErr = conn.Read(b[:])
	}
	if res.clientErr != nil {
		raw.Close() // unblock the server if it still waits for us
	}
	<-done
	return res
}

func bigOne() *big.Int { return big.NewInt(1) }
