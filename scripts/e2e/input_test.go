package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// api calls the daemon's unix-socket API directly, as a script with curl
// --unix-socket would, and returns the status and the error message.
func (n *node) api(method, path, body string) (int, string) {
	n.t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", n.sock)
		}}}
	req, err := http.NewRequest(method, "http://sw"+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var e struct {
		Message string `json:"message"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Message
}

// badAPIInput sends bodies the CLI would never send straight to the API:
// each gets a 400 that names the problem. The caller checks nothing
// changed.
func badAPIInput(t *testing.T, n *node) {
	t.Helper()
	spec := func(container, mode string) string {
		return `{"Name":"direct","TaskTemplate":{"ContainerSpec":{` + container + `}},"Mode":` + mode + `}`
	}
	img := `"Image":"` + demoImage + `"`
	one := `{"Replicated":{"Replicas":1}}`
	version := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{.Version}}", "web"))
	webSpec := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec}}", "web"))
	cases := []struct {
		what, path, body, want string
	}{
		{"an env entry without =", "/v1/services", spec(img+`,"Env":["NOVALUE"]`, one), `invalid env entry "NOVALUE": want KEY=VALUE`},
		{"an env entry with an empty key", "/v1/services", spec(img+`,"Env":["=x"]`, one), `invalid env entry "=x": the key is empty`},
		{"an unknown field", "/v1/services", `{"Name":"direct","Replicas":3,` + spec(img, one)[1:], `unknown field "Replicas"`},
		{"an unknown nested field", "/v1/services", spec(img+`,"Privileged":true`, one), `unknown field "Privileged"`},
		{"both modes", "/v1/services", spec(img, `{"Replicated":{"Replicas":1},"Global":{}}`), "more than one of Replicated, Global, ReplicatedJob and GlobalJob is set"},
		{"replicas over the limit", "/v1/services", spec(img, `{"Replicated":{"Replicas":200000}}`),
			"invalid replicas 200000: the limit is 100000 per service"},
		{"an invalid image", "/v1/services", spec(`"Image":"../../etc/passwd@@"`, one), `invalid image "../../etc/passwd@@"`},
		{"two bodies", "/v1/services", spec(img, one) + spec(img, one), "unexpected data after the JSON value"},
		{"an update with an unknown field", "/v1/services/web/update", `{"Version":` + version + `,"Spec":` + webSpec + `,"Force":true}`,
			`unknown field "Force"`},
		{"an update over the replicas limit", "/v1/services/web/update", `{"Version":` + version + `,"Spec":` +
			strings.Replace(webSpec, `"Replicas":1`, `"Replicas":200000`, 1) + `}`, "invalid replicas 200000: the limit is 100000"},
	}
	if !strings.Contains(webSpec, `"Replicas":1`) {
		t.Fatalf("web's spec lacks \"Replicas\":1: %s", webSpec)
	}
	for _, c := range cases {
		code, msg := n.api(http.MethodPost, c.path, c.body)
		if code != http.StatusBadRequest || !strings.Contains(msg, c.want) {
			t.Errorf("POST %s with %s: %d %q; want 400 mentioning %q", c.path, c.what, code, msg, c.want)
		}
	}
	// What the CLI sends still goes through, unchanged: web's own spec.
	if code, msg := n.api(http.MethodPost, "/v1/services/web/update", `{"Version":`+version+`,"Spec":`+webSpec+`}`); code != http.StatusOK {
		t.Errorf("sending web's spec back as it is: %d %q", code, msg)
	}
}

// TestJoinThrottled: wrong join tokens from one address are refused as
// invalid five times, then with 429 "too many failed join attempts" (as
// `sw swarm join` prints it too), each logged by the manager with the
// source address; a node joining from another address with the right
// token is not held back.
func TestJoinThrottled(t *testing.T) {
	t.Parallel()
	m := newNode(t, "thr-m")
	m.initSwarm()
	tok := m.joinToken("worker")
	wrong := wrongSecret(tok)

	src := fmt.Sprintf("%s%d", ipBase, nextIP.Add(1)) // an address no daemon uses
	body, _ := json.Marshal(map[string]any{"Token": wrong, "CSR": []byte("csr"), "Hostname": "intruder"})
	for i := 1; i <= 10; i++ {
		code, msg, retry := peerJoin(t, src, m.ip+":2377", body)
		switch {
		case i <= 5 && (code != http.StatusForbidden || !strings.Contains(msg, "invalid join token")):
			t.Fatalf("attempt %d: %d %q, want 403 invalid join token", i, code, msg)
		case i > 5 && (code != http.StatusTooManyRequests || !strings.Contains(msg, "too many failed join attempts from "+src+": try again in") ||
			retry == ""):
			t.Fatalf("attempt %d: %d %q (Retry-After %q), want 429 too many failed join attempts from %s", i, code, msg, retry, src)
		}
	}
	log := m.log.String()
	if k := strings.Count(log, `msg="join attempt refused" source=`+src+` reason="bad join token"`); k != 5 {
		t.Errorf("the manager logged %d refused attempts from %s, want 5:\n%s", k, src, log)
	}
	if !strings.Contains(log, "too many failed join attempts: throttling the source\" source="+src) {
		t.Errorf("the manager's log does not say it throttles %s:\n%s", src, log)
	}

	w := newNode(t, "thr-w") // joins from the loopback's own address, not src
	w.joinAs(m, "worker")

	// The CLI shows the throttle's message as it is, once a daemon's own
	// address has failed five times.
	x := newNode(t, "thr-x")
	var last result
	for i := 0; i < 6; i++ {
		last = x.tryJoin(m, wrong)
	}
	if last.code == 0 || !strings.HasPrefix(last.stderr, "Error: too many failed join attempts from ") || !strings.Contains(last.stderr, "try again in") {
		t.Errorf("the sixth wrong join from one daemon: %+v", last)
	}
	if info := x.ok("info"); !strings.Contains(info, "Swarm: inactive") {
		t.Errorf("the refused node is not inactive:\n%s", info)
	}
}

// peerJoin sends a join request to a manager's peer port from the local
// address src, as a joining node would (TLS, then the API's kind byte),
// and returns the status, the error message and the Retry-After header.
func peerJoin(t *testing.T, src, manager string, body []byte) (int, string, string) {
	t.Helper()
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		d := tls.Dialer{NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second},
			Config: &tls.Config{InsecureSkipVerify: true}} // a test client: the manager's identity is not in question here
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if _, err := c.Write([]byte{'H'}); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialTLSContext: dial, DisableKeepAlives: true}}
	resp, err := c.Post("https://"+manager+"/peer/join", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("join request from %s: %v", src, err)
	}
	defer resp.Body.Close()
	var e struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Message, resp.Header.Get("Retry-After")
}
