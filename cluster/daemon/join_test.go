package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/throttle"
	"sw/cluster/types"
)

// joinFixture is a manager's join route over an in-memory store, with the
// throttle on an injected clock and the log captured.
type joinFixture struct {
	h       *peerHandlers
	log     *bytes.Buffer
	clock   time.Time
	worker  string // the current worker token
	csr     []byte
	started time.Time
}

func newJoinFixture(t *testing.T) *joinFixture {
	t.Helper()
	ca, err := pki.NewRootCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pki.NewJoinToken(ca.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New()
	local := &store.Local{Store: st}
	c := &types.Cluster{ID: "cluster1", CertExpiry: 24 * time.Hour, JoinTokens: types.JoinTokens{Worker: tok},
		RootCA: types.RootCA{CertPEM: ca.CertPEM, KeyPEM: ca.KeyPEM}}
	if err := local.Propose(context.Background(), &store.Command{Changes: []store.Change{{PutCluster: c}}}); err != nil {
		t.Fatal(err)
	}
	_, csr, err := pki.NewKeyAndCSR("joining")
	if err != nil {
		t.Fatal(err)
	}
	f := &joinFixture{log: &bytes.Buffer{}, worker: tok, csr: csr, started: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.clock = f.started
	sw := &swarm{id: &identity{}, store: st, proposer: local, ready: make(chan struct{})}
	sw.markReady()
	d := &Daemon{log: slog.New(slog.NewTextHandler(f.log, nil))}
	f.h = &peerHandlers{d: d, sw: sw, joins: throttle.New(throttle.Config{Now: func() time.Time { return f.clock }})}
	return f
}

// post sends a join request body from src at the given offset from the
// start, and returns the status, the error message and the header.
func (f *joinFixture) post(t *testing.T, src string, at time.Duration, body string) (int, string, http.Header) {
	t.Helper()
	f.clock = f.started.Add(at)
	req := httptest.NewRequest(http.MethodPost, peer.PathJoin, strings.NewReader(body))
	req.RemoteAddr = src + ":40000"
	rec := httptest.NewRecorder()
	f.h.join(rec, req)
	var e peer.ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return rec.Code, e.Message, rec.Header()
}

func (f *joinFixture) body(t *testing.T, token string, csr []byte) string {
	t.Helper()
	b, err := json.Marshal(peer.JoinRequest{Token: token, CSR: csr, Hostname: "n", AdvertiseAddr: "192.0.2.9:2377"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJoinThrottled: failed joins (a wrong token, a malformed request, a
// bad CSR) are logged with their source and throttled per source: the
// sixth attempt within 10 s gets 429 before its token is looked at, while
// another source joins at once.
func TestJoinThrottled(t *testing.T) {
	const attacker, other, sloppy = "192.0.2.1", "192.0.2.2", "192.0.2.3"
	f := newJoinFixture(t)
	wrong := f.body(t, wrongSecret(f.worker), f.csr)
	good := f.body(t, f.worker, f.csr)
	type attempt struct {
		src        string
		at         time.Duration
		body       string
		code       int
		msg        string
		retryAfter string
	}
	invalid := "invalid join token"
	steps := []attempt{
		{attacker, 0, wrong, 403, invalid, ""},
		{attacker, 0, wrong, 403, invalid, ""},
		{attacker, 0, wrong, 403, invalid, ""},
		{attacker, 0, wrong, 403, invalid, ""},
		{attacker, 0, wrong, 403, invalid, ""},
		{attacker, 0, wrong, 429, "too many failed join attempts from 192.0.2.1: try again in 10s", "10"},
		{attacker, 5 * time.Second, good, 429, "try again in 5s", "5"}, // refused before the token is checked
		{other, 5 * time.Second, good, 200, "", ""},
		{sloppy, 5 * time.Second, `{"Token":"x","Colour":"red"}`, 400, `unknown field "Colour"`, ""},
		{sloppy, 5 * time.Second, `{"Token":`, 400, "cut short", ""},
		{sloppy, 5 * time.Second, f.body(t, f.worker, []byte("not a CSR")), 400, "", ""},
		{sloppy, 5 * time.Second, wrong, 403, invalid, ""},
		{sloppy, 5 * time.Second, wrong, 403, invalid, ""},
		{sloppy, 5 * time.Second, good, 429, "too many failed join attempts from 192.0.2.3", "10"},
		{attacker, 12 * time.Second, good, 200, "", ""}, // one attempt earned back, and it is good
	}
	for i, s := range steps {
		code, msg, hdr := f.post(t, s.src, s.at, s.body)
		if code != s.code || !strings.Contains(msg, s.msg) || hdr.Get("Retry-After") != s.retryAfter {
			t.Fatalf("step %d (%s at %s): %d %q Retry-After %q; want %d with %q, Retry-After %q",
				i, s.src, s.at, code, msg, hdr.Get("Retry-After"), s.code, s.msg, s.retryAfter)
		}
	}
	log := f.log.String()
	for _, want := range []string{
		`msg="join attempt refused" source=192.0.2.1 reason="bad join token"`,
		`msg="too many failed join attempts: throttling the source" source=192.0.2.1`,
		`source=192.0.2.3 reason="malformed request"`,
		`source=192.0.2.3 reason="bad certificate request"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "192.0.2.2") {
		t.Errorf("the successful join was logged as a failure:\n%s", log)
	}
	if n := len(f.h.sw.store.View().Nodes()); n != 2 {
		t.Errorf("%d nodes joined, want 2", n)
	}
}

func wrongSecret(tok string) string { return tok[:len(tok)-1] + flip(tok[len(tok)-1]) }
