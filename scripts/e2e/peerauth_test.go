package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/seal"
	"sw/cluster/store"
	"sw/cluster/types"
)

// cred is a TLS identity to attack a manager's port with, as an attacker
// holds it: a client that verifies nothing and shows a certificate (or
// none).
type cred struct {
	name string
	cert *tls.Certificate
}

func (c cred) tls() *tls.Config {
	conf := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	if c.cert != nil {
		conf.Certificates = []tls.Certificate{*c.cert}
	}
	return conf
}

// nodeCred reads a node's certificate and key from its data dir (an
// unsealed key file, as every key file of a swarm without autolock).
func nodeCred(t *testing.T, n *node, name string) cred {
	t.Helper()
	dir := filepath.Join(n.dir, "data", "certificates")
	read := func(f string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
		return b
	}
	kf, err := seal.ParseKeyFile(read("swarm-node.key"), nil)
	if err != nil {
		t.Fatalf("%s: key file: %v", n.name, err)
	}
	ca, err := pki.ParseCertificatePEM(read("swarm-root-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := pki.KeyPair(read("swarm-node.crt"), kf.KeyPEM, ca)
	if err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	return cred{name: name, cert: &kp}
}

// credLayer is a raft.StreamLayer that dials with a cred, sending the
// mux's Raft kind byte.
type credLayer struct{ c cred }

func (l credLayer) Accept() (net.Conn, error) { return nil, errors.New("dial only") }
func (l credLayer) Close() error              { return nil }
func (l credLayer) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (l credLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return (&peer.Dialer{TLS: l.c.tls}).Dial(ctx, string(addr), peer.KindRaft)
}

// raftProbe sends a harmless RequestVote (term 0, which any member
// rejects without changing anything); nil means Raft answered.
func raftProbe(c cred, addr string) error {
	trans := raft.NewNetworkTransport(credLayer{c}, 1, 3*time.Second, io.Discard)
	defer trans.Close()
	var resp raft.RequestVoteResponse
	return trans.RequestVote("probe", raft.ServerAddress(addr), &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("probe"), Addr: []byte("127.0.0.1:1")}}, &resp)
}

// raftForge poses as a leader of a far later term and sends one log
// entry creating a service: the attack that must never land.
func raftForge(c cred, addr, svcName string) error {
	cmd := store.Command{Time: time.Now().UTC(), Changes: []store.Change{{CreateService: evilService(svcName)}}}
	data, err := cmd.Encode()
	if err != nil {
		return err
	}
	trans := raft.NewNetworkTransport(credLayer{c}, 1, 3*time.Second, io.Discard)
	defer trans.Close()
	var resp raft.AppendEntriesResponse
	err = trans.AppendEntries("forger", raft.ServerAddress(addr), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("forger"), Addr: []byte("127.0.0.1:1")},
		Term:      1 << 40, PrevLogEntry: 0, PrevLogTerm: 0, LeaderCommitIndex: 1 << 40,
		Entries: []*raft.Log{{Index: 1 << 39, Term: 1 << 40, Type: raft.LogCommand, Data: data}},
	}, &resp)
	if err == nil && !resp.Success {
		return fmt.Errorf("raft answered (term %d) but refused the entries", resp.Term)
	}
	return err
}

func evilService(name string) *types.Service {
	return &types.Service{ID: types.NewID(), Spec: types.ServiceSpec{Name: name, Mode: types.ModeReplicated,
		Container: types.ContainerSpec{Image: demoImage}, Restart: types.RestartPolicy{Condition: types.RestartNone}}}
}

// propose hands a command to the manager's peer API as a follower does.
func propose(c cred, addr, svcName string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl := peer.NewClient(&peer.Dialer{TLS: c.tls})
	defer cl.CloseIdle()
	return cl.Do(ctx, addr, http.MethodPost, peer.PathPropose, nil,
		peer.ProposeRequest{Command: store.Command{Changes: []store.Change{{CreateService: evilService(svcName)}}}}, nil)
}

// TestPeerAuthorization: only a current manager of the swarm speaks Raft
// or proposes. No certificate, a worker's, a removed node's, a demoted
// manager's and another swarm's certificate are each refused both ways,
// against the leader and a follower; a current manager's certificate,
// the control, gets through (so the refusals are not the test's own
// failure).
func TestPeerAuthorization(t *testing.T) {
	nodes := newSwarm(t, "pa", 3, 2)
	m1, m2, m3, w1, w2 := nodes[0], nodes[1], nodes[2], nodes[3], nodes[4]
	leader, follower := m1.ip+":2377", m2.ip+":2377"
	if m1.leaderID() != m1.id {
		t.Fatalf("m1 is not the leader: %q", m1.leaderID())
	}
	control := nodeCred(t, m2, "a current manager's certificate")
	worker := nodeCred(t, w1, "a worker's certificate")
	demoted := nodeCred(t, m3, "a demoted manager's certificate")
	removed := nodeCred(t, w2, "a removed node's certificate")
	other := newNode(t, "pa-other")
	other.initSwarm()
	foreign := nodeCred(t, other, "another swarm's manager certificate")
	none := cred{name: "no certificate"}

	// The control: Raft answers a current manager, and its proposal lands.
	for _, addr := range []string{leader, follower} {
		if err := raftProbe(control, addr); err != nil {
			t.Fatalf("%s: raft refused a current manager: %v", addr, err)
		}
	}
	if err := propose(control, leader, "pa-control"); err != nil {
		t.Fatalf("a current manager's proposal failed: %v", err)
	}
	waitFor(t, 5*time.Second, "the control proposal in service ls", func() bool {
		return strings.Contains(m1.ok("service", "ls", "--format", "{{.Name}}"), "pa-control")
	})

	// A Raft connection m3 opens while it is a manager, and keeps open.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	held, err := (&peer.Dialer{TLS: demoted.tls}).Dial(ctx, leader, peer.KindRaft)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	// Demote m3 and remove w2; keep their old certificates.
	m1.ok("node", "demote", "pa-m3")
	waitFor(t, 30*time.Second, "pa-m3 to run as a worker", func() bool {
		r := m3.sw("info", "--format", "{{.IsManager}}")
		return r.code == 0 && strings.TrimSpace(r.stdout) == "false"
	})
	w2.kill()
	m1.ok("node", "rm", "--force", "pa-w2")
	// The connection m3 opened as a manager does not outlive its demotion.
	_ = held.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := held.Read(make([]byte, 1)); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("a Raft connection opened before the demotion is still open: %v", err)
	}

	bad := []cred{none, worker, demoted, removed, foreign}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			for _, addr := range []string{leader, follower} {
				// The demoted manager leaves the configurations as the change
				// commits; a probe may pass only until then.
				eventually(t, 10*time.Second, "raft to refuse "+c.name+" at "+addr, func() (bool, string) {
					err := raftProbe(c, addr)
					return err != nil, fmt.Sprint(err)
				})
				if err := raftForge(c, addr, "pa-evil-raft"); err == nil {
					t.Fatalf("%s: a forged AppendEntries with %s was accepted", addr, c.name)
				}
				err := propose(c, addr, "pa-evil-propose")
				if err == nil {
					t.Fatalf("%s: a proposal with %s was accepted", addr, c.name)
				}
				var pe *peer.Error
				if c.cert != nil && c.name != foreign.name && c.name != removed.name {
					// Refused by the route, with a reason, not at the handshake.
					if !errors.As(err, &pe) || pe.Status != http.StatusForbidden {
						t.Fatalf("%s: proposal with %s: %v, want 403", addr, c.name, err)
					}
				}
				t.Logf("%s: %s refused: propose: %v", addr, c.name, err)
			}
		})
	}
	out := m1.ok("service", "ls", "--format", "{{.Name}}")
	if strings.Contains(out, "pa-evil") {
		t.Fatalf("a refused peer's service was committed:\n%s", out)
	}
	if id := m2.leaderID(); id != m1.id {
		t.Fatalf("leadership moved to %q after the attacks (m1 is %s)", id, m1.id)
	}
	// The swarm still works for its own members.
	m1.ok("service", "create", "-d", "--name", "pa-after", "--replicas", "0", demoImage)
	if !strings.Contains(m2.ok("service", "ls", "--format", "{{.Name}}"), "pa-after") {
		t.Fatal("a write after the attacks did not reach the follower")
	}
}
