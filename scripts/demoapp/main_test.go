package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHandler(t *testing.T) {
	t.Setenv("SW_TASK_NAME", "web.1.abc")
	srv := httptest.NewServer(newHandler(taskName()))
	defer srv.Close()

	if code, body := get(t, srv.URL+"/"); code != 200 || body != "hello from web.1.abc\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q", code, body)
	}
	code, body := get(t, srv.URL+"/env")
	if code != 200 || !strings.Contains(body, "SW_TASK_NAME=web.1.abc\n") {
		t.Errorf("GET /env = %d %q", code, body)
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i-1] > lines[i] {
			t.Errorf("/env not sorted: %q before %q", lines[i-1], lines[i])
		}
	}
}

func TestTaskNameFallsBackToHostname(t *testing.T) {
	t.Setenv("SW_TASK_NAME", "")
	h, _ := os.Hostname()
	if got := taskName(); got != h {
		t.Errorf("taskName() = %q, want hostname %q", got, h)
	}
}

func TestUDPEcho(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serveUDP(pc, "t1") }()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "t1: ping" {
		t.Errorf("reply = %q", got)
	}
	pc.Close()
	if err := <-done; err != nil {
		t.Errorf("serveUDP after close: %v", err)
	}
}

func TestArgs(t *testing.T) {
	for in, want := range map[string]string{"": ":8080", "9000": ":9000", "127.0.0.1:81": "127.0.0.1:81"} {
		var args []string
		if in != "" {
			args = []string{in}
		}
		if got, err := addrArg(args); err != nil || got != want {
			t.Errorf("addrArg(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := addrArg([]string{"nope"}); err == nil {
		t.Error("addrArg(nope) succeeded")
	}
	if c, d, err := exitArgs([]string{"3", "150ms"}); err != nil || c != 3 || d != 150*time.Millisecond {
		t.Errorf("exitArgs = %d %v %v", c, d, err)
	}
	for _, bad := range [][]string{nil, {"x"}, {"256"}, {"1", "soon"}, {"1", "2s", "3"}} {
		if _, _, err := exitArgs(bad); err == nil {
			t.Errorf("exitArgs(%q) succeeded", bad)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"bogus"}, &out, &errb); code != 2 {
		t.Errorf("run(bogus) = %d, want 2", code)
	}
	if code := run([]string{"exit", "7"}, &out, &errb); code != 7 || !strings.Contains(out.String(), "exiting with 7\n") {
		t.Errorf("run(exit 7) = %d, out %q", code, out.String())
	}
}

// TestBinary builds the program and checks exit codes and prompt exit on
// SIGTERM/SIGINT in every blocking mode.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "demoapp")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "exit", "3").Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("exit 3: err %v", err)
	}
	if !strings.Contains(string(out), "exiting with 3\n") {
		t.Errorf("exit 3 output %q", out)
	}

	modes := [][]string{{"http", "127.0.0.1:0"}, {"udp", "127.0.0.1:0"}, {"sleep"}, {"echo", "hi", "there"}, {"exit", "4", "1h"}}
	for _, mode := range modes {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			cmd := exec.Command(bin, mode...)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout = w
			err = cmd.Start()
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			// Wait for the start line so the signal handler is installed.
			first, err := bufio.NewReader(r).ReadString('\n')
			if err != nil {
				t.Fatalf("%v: reading start line: %v", mode, err)
			}
			start := time.Now()
			cmd.Process.Signal(sig)
			err = cmd.Wait()
			el := time.Since(start)
			if err != nil {
				t.Errorf("%v on %v: %v (start line %q)", mode, sig, err, first)
			}
			if el > 100*time.Millisecond {
				t.Errorf("%v on %v: took %v to exit", mode, sig, el)
			}
			r.Close()
		}
	}
}

// TestHealthMode: /sick makes /healthz and the health mode fail, /well
// makes them pass again.
func TestHealthMode(t *testing.T) {
	srv := httptest.NewServer(newHandler("web.1"))
	defer srv.Close()
	health := func() (int, string) {
		var out, errb bytes.Buffer
		code := run([]string{"health", srv.URL + "/healthz"}, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := health(); code != 0 || !strings.Contains(out, "healthy") {
		t.Errorf("health of a well server: %d %q", code, out)
	}
	if code, body := get(t, srv.URL+"/sick"); code != 200 || body != "web.1 is sick\n" {
		t.Errorf("GET /sick = %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 503 || body != "sick\n" {
		t.Errorf("GET /healthz when sick = %d %q", code, body)
	}
	if code, out := health(); code != 1 || !strings.Contains(out, "503") {
		t.Errorf("health of a sick server: %d %q", code, out)
	}
	if code, _ := get(t, srv.URL+"/well"); code != 200 {
		t.Errorf("GET /well = %d", code)
	}
	if code, _ := health(); code != 0 {
		t.Errorf("health after /well: %d", code)
	}
	// Nothing listening: unhealthy, not a hang.
	var out, errb bytes.Buffer
	if code := run([]string{"health", "http://127.0.0.1:1/healthz"}, &out, &errb); code != 1 {
		t.Errorf("health with nothing listening: %d %q", code, errb.String())
	}
	if code := run([]string{"health", "a", "b"}, &out, &errb); code != 2 {
		t.Errorf("health with two URLs: %d", code)
	}
}
