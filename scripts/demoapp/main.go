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
//
// HTTP endpoints: GET / answers "hello from NAME", GET /env lists the
// environment sorted, GET /healthz answers "ok". The UDP echo replies
// "NAME: PAYLOAD". NAME is $SW_TASK_NAME, or the hostname when it is unset.
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
	"syscall"
	"time"
)

const defaultAddr = ":8080"

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
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	return mux
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
