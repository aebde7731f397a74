// Command demoapp is the entrypoint of the sw-demo image, a FROM scratch
// image used to demonstrate and test sw services. It is a small static
// multi-mode program:
//
//	demoapp [http [ADDR]]    HTTP server (default :8080) plus a UDP echo on the same port
//	demoapp udp [ADDR]       UDP echo only (default :8080)
//	demoapp exit CODE [AFTER] sleep AFTER (a Go duration, default 0) then exit with CODE
//	demoapp sleep            block until SIGTERM/SIGINT
//	demoapp echo WORDS...    print WORDS on one line, then block; if $SW_ECHO_EVERY
//	                         is a Go duration, print "WORDS #N" every such period
//	demoapp health [URL]     GET URL (default http://127.0.0.1:8080/healthz) and
//	                         exit 0 on a 2xx answer, 1 otherwise: a health check
//	                         for an image without a shell (exec form)
//
// HTTP endpoints: GET / answers "hello from NAME", GET /env lists the
// environment sorted, GET /healthz answers "ok" (503 "sick" once /sick was
// asked for, until /well is). The UDP echo replies "NAME: PAYLOAD". NAME is
// $SW_TASK_NAME, or the hostname when it is unset.
//
// The binary runs as PID 1 in its container, so it handles SIGTERM and SIGINT
// itself: every mode exits at once with status 0 on either signal.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	defaultAddr      = ":8080"
	defaultHealthURL = "http://127.0.0.1:8080/healthz"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stdout, "demoapp: received %v, exiting\n", s)
		os.Exit(0)
	}()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the mode selected by args and returns the exit status. Modes
// that block forever only return on error.
func run(args []string, stdout, stderr io.Writer) int {
	mode := "http"
	if len(args) > 0 {
		mode, args = args[0], args[1:]
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "demoapp: "+format+"\n", a...)
		return 1
	}
	switch mode {
	case "http":
		addr, err := addrArg(args)
		if err != nil {
			return usage(stderr, err)
		}
		if err := runHTTP(addr, taskName(), stdout); err != nil {
			return fail("http: %v", err)
		}
	case "udp":
		addr, err := addrArg(args)
		if err != nil {
			return usage(stderr, err)
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fail("udp: %v", err)
		}
		fmt.Fprintf(stdout, "demoapp: udp echo listening on %s\n", addr)
		if err := serveUDP(pc, taskName()); err != nil {
			return fail("udp: %v", err)
		}
	case "exit":
		code, after, err := exitArgs(args)
		if err != nil {
			return usage(stderr, err)
		}
		fmt.Fprintf(stdout, "demoapp: exit mode, exiting with %d after %v\n", code, after)
		time.Sleep(after)
		fmt.Fprintf(stdout, "exiting with %d\n", code)
		return code
	case "sleep":
		if len(args) != 0 {
			return usage(stderr, errors.New("sleep takes no arguments"))
		}
		fmt.Fprintln(stdout, "demoapp: sleeping until signalled")
		select {}
	case "echo":
		var every time.Duration
		if v := os.Getenv("SW_ECHO_EVERY"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return usage(stderr, fmt.Errorf("SW_ECHO_EVERY=%q is not a positive duration", v))
			}
			every = d
		}
		runEcho(strings.Join(args, " "), every, stdout)
	case "health":
		if len(args) > 1 {
			return usage(stderr, errors.New("health takes at most one URL"))
		}
		url := defaultHealthURL
		if len(args) == 1 {
			url = args[0]
		}
		if err := checkHealth(url); err != nil {
			return fail("health: %v", err)
		}
		fmt.Fprintln(stdout, "demoapp: healthy")
	case "help", "-h", "-help", "--help":
		usage(stdout, nil)
		return 0
	default:
		return usage(stderr, fmt.Errorf("unknown mode %q", mode))
	}
	return 0
}

func usage(w io.Writer, err error) int {
	if err != nil {
		fmt.Fprintf(w, "demoapp: %v\n", err)
	}
	fmt.Fprint(w, `usage:
  demoapp [http [ADDR]]      HTTP on ADDR (default :8080) + UDP echo on the same port
  demoapp udp [ADDR]         UDP echo only
  demoapp exit CODE [AFTER]  sleep AFTER (Go duration) then exit with CODE
  demoapp sleep              block until SIGTERM/SIGINT
  demoapp echo WORDS...      print WORDS then block ($SW_ECHO_EVERY repeats them)
  demoapp health [URL]       exit 0 if GET URL (default `+defaultHealthURL+`) answers 2xx, else 1
`)
	return 2
}

func addrArg(args []string) (string, error) {
	switch len(args) {
	case 0:
		return defaultAddr, nil
	case 1:
		addr := args[0]
		if _, err := strconv.Atoi(addr); err == nil {
			addr = ":" + addr // a bare port number
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", fmt.Errorf("bad address %q: %v", args[0], err)
		}
		return addr, nil
	default:
		return "", errors.New("too many arguments")
	}
}

func exitArgs(args []string) (int, time.Duration, error) {
	if len(args) < 1 || len(args) > 2 {
		return 0, 0, errors.New("usage: exit CODE [AFTER]")
	}
	code, err := strconv.Atoi(args[0])
	if err != nil || code < 0 || code > 255 {
		return 0, 0, fmt.Errorf("bad exit code %q", args[0])
	}
	var after time.Duration
	if len(args) == 2 {
		after, err = time.ParseDuration(args[1])
		if err != nil || after < 0 {
			return 0, 0, fmt.Errorf("bad duration %q", args[1])
		}
	}
	return code, after, nil
}

// taskName is $SW_TASK_NAME when set, else the hostname (the container ID
// prefix under Docker).
func taskName() string {
	if n := os.Getenv("SW_TASK_NAME"); n != "" {
		return n
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "unknown"
}

// runHTTP serves HTTP on addr and a UDP echo on the same host and port. It
// only returns on error.
func runHTTP(addr, name string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Use the bound port so ADDR ":0" gives matching TCP and UDP ports.
	host, _, _ := net.SplitHostPort(addr)
	port := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(stdout, "demoapp: http listening on %s (udp echo on the same port)\n", addr)
	errc := make(chan error, 2)
	go func() { errc <- serveUDP(pc, name) }()
	go func() {
		srv := &http.Server{Handler: newHandler(name), ReadHeaderTimeout: 10 * time.Second}
		errc <- srv.Serve(ln)
	}()
	return <-errc
}

func newHandler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		env := os.Environ()
		sort.Strings(env)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, kv := range env {
			fmt.Fprintln(w, kv)
		}
	})
	var sick atomic.Bool
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "sick")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	// /sick makes /healthz fail from now on, /well makes it pass again:
	// a way to make a task unhealthy while it runs.
	mux.HandleFunc("/sick", func(w http.ResponseWriter, r *http.Request) {
		sick.Store(true)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s is sick\n", name)
	})
	mux.HandleFunc("/well", func(w http.ResponseWriter, r *http.Request) {
		sick.Store(false)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s is well\n", name)
	})
	return mux
}

// checkHealth GETs url and fails unless the answer is 2xx.
func checkHealth(url string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// serveUDP answers every datagram with "NAME: PAYLOAD" until pc fails.
func serveUDP(pc net.PacketConn, name string) error {
	buf := make([]byte, 64*1024)
	prefix := []byte(name + ": ")
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		reply := append(append([]byte(nil), prefix...), buf[:n]...)
		_, _ = pc.WriteTo(reply, from) // best effort, like any UDP echo
	}
}

// runEcho prints line, then "line #N" every period if every > 0; it never
// returns. The words themselves are echo mode's start line: no "demoapp:"
// banner is printed, so the container's logs hold only what the test asked for.
func runEcho(line string, every time.Duration, stdout io.Writer) {
	fmt.Fprintln(stdout, line)
	if every <= 0 {
		select {}
	}
	t := time.NewTicker(every)
	for n := 2; ; n++ {
		<-t.C
		fmt.Fprintf(stdout, "%s #%d\n", line, n)
	}
}
