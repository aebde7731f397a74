package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"sw/cluster/pki"
)

// serveAPI serves h over the mux's API listener.
func serveAPI(t *testing.T, m *Mux, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(m.Listener(KindAPI)) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
}

type echoReq struct {
	Name string `json:"Name"`
	N    int    `json:"N"`
}

type echoResp struct {
	Method string `json:"Method"`
	Path   string `json:"Path"`
	Query  string `json:"Query"`
	Name   string `json:"Name"`
	N      int    `json:"N"`
	Caller string `json:"Caller"`
}

func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		var in echoReq
		if r.Body != nil && r.ContentLength != 0 {
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(ErrorBody{Message: err.Error(), Code: "bad_request"})
				return
			}
		}
		out := echoResp{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Name: in.Name, N: in.N}
		if r.TLS != nil {
			if id, ok := pki.IdentityFromConnState(*r.TLS); ok {
				out.Caller = id.NodeID
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusConflict
		fmt.Sscan(r.URL.Query().Get("status"), &status)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(ErrorBody{Message: r.URL.Query().Get("msg"), Code: r.URL.Query().Get("code")})
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not json at all", http.StatusBadGateway)
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("{not json"))
	})
	mux.HandleFunc("/lines", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
		}
		if r.URL.Query().Get("follow") == "1" {
			<-r.Context().Done()
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		// No implicit 200 for a client that gave up.
		panic(http.ErrAbortHandler)
	})
	return mux
}

func TestClientDo(t *testing.T) {
	p := newTestPKI(t, "c1")
	m := startMux(t, p)
	serveAPI(t, m, testHandler())
	c := NewClient(p.dialer(p.worker))
	defer c.CloseIdle()
	addr := m.Addr().String()

	t.Run("json round trip", func(t *testing.T) {
		var out echoResp
		err := c.Do(testCtx(t), addr, http.MethodPost, "/echo", url.Values{"node": {"wrk1"}, "wait": {"7"}},
			echoReq{Name: "web", N: 3}, &out)
		if err != nil {
			t.Fatal(err)
		}
		want := echoResp{Method: "POST", Path: "/echo", Query: "node=wrk1&wait=7", Name: "web", N: 3, Caller: "wrk1"}
		if out != want {
			t.Fatalf("got %+v, want %+v", out, want)
		}
	})
	t.Run("no body, no query, no output", func(t *testing.T) {
		if err := c.Do(testCtx(t), addr, http.MethodGet, "/echo", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("connections are reused", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			var out echoResp
			if err := c.Do(testCtx(t), addr, http.MethodGet, "/echo", nil, nil, &out); err != nil || out.Caller != "wrk1" {
				t.Fatalf("call %d: %+v, %v", i, out, err)
			}
		}
	})
	t.Run("undecodable answer", func(t *testing.T) {
		var out echoResp
		err := c.Do(testCtx(t), addr, http.MethodGet, "/garbage", nil, nil, &out)
		var pe *Error
		if err == nil || errors.As(err, &pe) {
			t.Fatalf("err = %v, want a decode error that is not a peer Error", err)
		}
	})
	t.Run("unmarshalable input", func(t *testing.T) {
		if err := c.Do(testCtx(t), addr, http.MethodPost, "/echo", nil, func() {}, nil); err == nil {
			t.Fatal("sent a func as JSON")
		}
	})
}

func TestClientErrors(t *testing.T) {
	p := newTestPKI(t, "c1")
	m := startMux(t, p)
	serveAPI(t, m, testHandler())
	c := NewClient(p.dialer(p.manager))
	addr := m.Addr().String()

	cases := []struct {
		name       string
		path       string
		q          url.Values
		wantStatus int
		wantMsg    string
		wantCode   string
	}{
		{"code and message", "/fail", url.Values{"status": {"409"}, "msg": {"name in use"}, "code": {"name_in_use"}},
			409, "name in use", "name_in_use"},
		{"not leader", "/fail", url.Values{"status": {"503"}, "msg": {"not the leader"}, "code": {"not_leader"}},
			503, "not the leader", "not_leader"},
		{"message without code", "/fail", url.Values{"status": {"500"}, "msg": {"boom"}}, 500, "boom", ""},
		{"empty message", "/fail", url.Values{"status": {"403"}, "code": {"forbidden"}},
			403, "peer " + addr + ": 403 Forbidden", "forbidden"},
		{"body not json", "/plain", nil, 502, "peer " + addr + ": 502 Bad Gateway", ""},
		{"no route", "/nowhere", nil, 404, "peer " + addr + ": 404 Not Found", ""},
		{"redirect status is an error too", "/fail", url.Values{"status": {"304"}, "msg": {"x"}},
			304, "peer " + addr + ": 304 Not Modified", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out echoResp
			err := c.Do(testCtx(t), addr, http.MethodGet, tc.path, tc.q, nil, &out)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want *peer.Error", err, err)
			}
			if pe.Status != tc.wantStatus || pe.Message != tc.wantMsg || pe.Code != tc.wantCode {
				t.Fatalf("got %+v, want status %d message %q code %q", *pe, tc.wantStatus, tc.wantMsg, tc.wantCode)
			}
			if pe.Error() != tc.wantMsg {
				t.Fatalf("Error() = %q", pe.Error())
			}
			if tc.wantCode != "" && !IsCode(err, tc.wantCode) {
				t.Fatalf("IsCode(%q) = false", tc.wantCode)
			}
			if IsCode(err, "some_other_code") {
				t.Fatal("IsCode matched another code")
			}
			if !IsCode(fmt.Errorf("wrapped: %w", err), tc.wantCode) {
				t.Fatal("IsCode does not see through wrapping")
			}
		})
	}
}

func TestIsCode(t *testing.T) {
	pe := &Error{Status: 409, Message: "m", Code: "conflict"}
	cases := []struct {
		err  error
		code string
		want bool
	}{
		{pe, "conflict", true},
		{fmt.Errorf("ctx: %w", pe), "conflict", true},
		{pe, "not_found", false},
		{errors.New("conflict"), "conflict", false},
		{nil, "conflict", false},
		{&Error{Message: "no code"}, "", true},
	}
	for _, tc := range cases {
		if got := IsCode(tc.err, tc.code); got != tc.want {
			t.Errorf("IsCode(%v, %q) = %v, want %v", tc.err, tc.code, got, tc.want)
		}
	}
}

func TestClientTransportFailures(t *testing.T) {
	p := newTestPKI(t, "c1")
	other := newTestPKI(t, "c1")
	m := startMux(t, p)
	serveAPI(t, m, testHandler())
	addr := m.Addr().String()

	cases := []struct {
		name    string
		client  *Client
		addr    string
		path    string
		timeout time.Duration
	}{
		{"nothing listens", NewClient(p.dialer(p.worker)), deadAddr(t), "/echo", 5 * time.Second},
		{"server of another CA", NewClient(p.dialer(other.worker)), addr, "/echo", 5 * time.Second},
		{"client of another CA", NewClient(&Dialer{TLS: func() *tls.Config { return pki.ClientTLS(p.ca.Cert, &other.worker) }}),
			addr, "/echo", 5 * time.Second},
		{"context deadline", NewClient(p.dialer(p.worker)), addr, "/slow", 100 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			err := tc.client.Do(ctx, tc.addr, http.MethodGet, tc.path, nil, nil, nil)
			var pe *Error
			if err == nil || errors.As(err, &pe) {
				t.Fatalf("err = %v, want a transport error (not a peer Error)", err)
			}
		})
	}
}

// TestJoinClient: a node with only a join token reaches a manager whose
// CA the token pins, without a client certificate, on a listener that
// does not require one.
func TestJoinClient(t *testing.T) {
	p := newTestPKI(t, "c1")
	other := newTestPKI(t, "c1")
	m, err := Listen("127.0.0.1:0", pki.ServerTLS(p.ca.Cert, p.manager, false), nil, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	serveAPI(t, m, testHandler())

	cases := []struct {
		name   string
		caDER  []byte
		wantOK bool
	}{
		{"token of this CA", p.ca.Cert.Raw, true},
		{"token of another CA", other.ca.Cert.Raw, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := pki.NewJoinToken(tc.caDER)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := pki.ParseJoinToken(s)
			if err != nil {
				t.Fatal(err)
			}
			var out echoResp
			err = JoinClient(pki.JoinTLS(tok)).Do(testCtx(t), m.Addr().String(), http.MethodPost, "/echo", nil, echoReq{Name: "j"}, &out)
			if tc.wantOK {
				if err != nil || out.Name != "j" || out.Caller != "" {
					t.Fatalf("got %+v, %v", out, err)
				}
				return
			}
			if !errors.Is(err, pki.ErrCAMismatch) {
				t.Fatalf("err = %v, want ErrCAMismatch", err)
			}
		})
	}
}

// TestClientStream: Stream hands over the body as it comes (a followed
// stream's lines arrive before it ends, and it ends with the caller's
// context); a failed answer is a peer Error, a dead peer a transport
// error.
func TestClientStream(t *testing.T) {
	p := newTestPKI(t, "c1")
	m := startMux(t, p)
	serveAPI(t, m, testHandler())
	c := NewClient(p.dialer(p.manager))
	defer c.CloseIdle()
	addr := m.Addr().String()

	cases := []struct {
		name       string
		addr, path string
		q          url.Values
		wantStatus int // a peer Error with this status; 0: success, -1: a transport error
		wantBody   string
	}{
		{"whole body", addr, "/lines", nil, 0, "line 1\nline 2\nline 3\n"},
		{"failed answer", addr, "/fail", url.Values{"status": {"404"}, "msg": {"no such task"}, "code": {"not_found"}}, 404, ""},
		{"not json failure", addr, "/plain", nil, 502, ""},
		{"nothing listens", deadAddr(t), "/lines", nil, -1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := c.Stream(testCtx(t), tc.addr, tc.path, tc.q)
			var pe *Error
			switch {
			case tc.wantStatus == 0:
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				b, err := io.ReadAll(rc)
				if err != nil || string(b) != tc.wantBody {
					t.Fatalf("body %q, %v; want %q", b, err, tc.wantBody)
				}
			case tc.wantStatus > 0:
				if !errors.As(err, &pe) || pe.Status != tc.wantStatus {
					t.Fatalf("err = %v, want a peer Error with status %d", err, tc.wantStatus)
				}
			default:
				if err == nil || errors.As(err, &pe) {
					t.Fatalf("err = %v, want a transport error", err)
				}
			}
		})
	}

	t.Run("followed stream ends with the context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rc, err := c.Stream(ctx, addr, "/lines", url.Values{"follow": {"1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		br := bufio.NewReader(rc)
		for i := 1; i <= 3; i++ {
			l, err := br.ReadString('\n')
			if err != nil || l != fmt.Sprintf("line %d\n", i) {
				t.Fatalf("line %d: %q, %v", i, l, err)
			}
		}
		done := make(chan error, 1)
		go func() { _, err := br.ReadString('\n'); done <- err }()
		cancel()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("read more after the context ended")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the stream outlived its context")
		}
	})
}

// TestClientKeepsConnections: calls one after the other share one
// connection, whether their answers are decoded or not wanted (each new
// connection is a TLS handshake on both sides: a client that dropped them
// paid one per heartbeat and per status report).
func TestClientKeepsConnections(t *testing.T) {
	p := newTestPKI(t, "c1")
	m := startMux(t, p)
	var opened atomic.Int32
	srv := &http.Server{Handler: testHandler(), ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				opened.Add(1)
			}
		}}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(m.Listener(KindAPI)) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	c := NewClient(p.dialer(p.worker))
	defer c.CloseIdle()
	addr := m.Addr().String()
	for i := 0; i < 4; i++ {
		var out echoResp
		if err := c.Do(testCtx(t), addr, http.MethodGet, "/echo", nil, nil, &out); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(testCtx(t), addr, http.MethodPost, "/echo", nil, echoReq{Name: "x"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(testCtx(t), addr, http.MethodGet, "/fail", url.Values{"status": {"409"}, "msg": {"no"}}, nil, nil); err == nil {
			t.Fatal("a 409 answered as success")
		}
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("12 calls in a row opened %d connections, want 1", n)
	}
}
