// Command healload measures how long a published service takes to serve
// without errors again after a host is lost. One client sends short HTTP
// GETs one after the other (a new connection each, a timeout each) to one
// URL. Once it has had -ok answers in a row it prints "ready"; the caller
// then writes the moment it loses the host (unix nanoseconds) to the file
// named by -t0 and loses it. From then on healload looks for the first
// moment after which -ok requests in a row all succeed ("healed"), and
// prints one line and exits:
//
//	healed_ms=N requests=N failures=N first_fail_ms=N last_fail_start_ms=N last_fail_ms=N backends=N
//
// healed_ms is healed − t0 (0 if no request failed after t0), first_fail_ms
// and last_fail_ms when the first and the last failed requests after t0
// ended, last_fail_start_ms when the last one started (all from t0, -1 if
// none; with one request at a time, the path healed somewhere between the
// last failure's start and healed), backends how many different "hello from NAME" answers
// it saw after t0. A request fails on any error: no
// connection, a timeout, a status other than 200, a body that is not
// "hello from ...". It exits 1 if not healed within -max after t0, or not
// ready within -max from its start. -log FILE writes every request as
// "START_NS END_NS ok|err DETAIL".
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to GET")
	timeout := flag.Duration("timeout", time.Second, "timeout of each request (connect to end of answer)")
	okRun := flag.Int("ok", 20, "requests in a row that must succeed")
	t0File := flag.String("t0", "", "file where the caller writes t0 (unix ns) when it loses the host")
	maxWait := flag.Duration("max", 60*time.Second, "give up this long after t0 (or after the start, before ready)")
	interval := flag.Duration("interval", 0, "least time from one request's start to the next one's")
	logFile := flag.String("log", "", "write every request to this file")
	flag.Parse()
	if *url == "" || *t0File == "" || *okRun < 1 {
		fmt.Fprintln(os.Stderr, "usage: healload -url URL -t0 FILE [-ok N] [-timeout D] [-max D] [-interval D] [-log FILE]")
		os.Exit(2)
	}
	var lw *bufio.Writer
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "healload:", err)
			os.Exit(1)
		}
		defer f.Close()
		lw = bufio.NewWriter(f)
		defer lw.Flush()
	}
	client := &http.Client{
		Timeout:   *timeout,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	get := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("status %d", resp.StatusCode)
		}
		s := strings.TrimSpace(string(b))
		if !strings.HasPrefix(s, "hello from ") {
			return "", fmt.Errorf("answer %q", s)
		}
		return strings.TrimPrefix(s, "hello from "), nil
	}

	start := time.Now()
	var (
		ready             bool
		t0                int64 // unix ns, 0 until the caller wrote it
		streak            int
		streakStart       int64
		requests, failed  int
		firstFail, lastFl int64 = -1, -1
		lastFlStart       int64 = -1
		backends                = map[string]bool{}
	)
	for {
		begin := time.Now()
		name, err := get()
		end := time.Now()
		if lw != nil {
			st, detail := "ok", name
			if err != nil {
				st, detail = "err", err.Error()
			}
			fmt.Fprintf(lw, "%d %d %s %s\n", begin.UnixNano(), end.UnixNano(), st, detail)
		}
		if t0 == 0 {
			if b, rerr := os.ReadFile(*t0File); rerr == nil {
				if v, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); perr == nil && v > 0 {
					t0 = v
					streak = 0
				}
			}
		}
		if t0 == 0 {
			// Before the loss: wait for -ok answers in a row, then say ready.
			if err == nil {
				streak++
			} else {
				streak = 0
			}
			if !ready && streak >= *okRun {
				ready = true
				fmt.Println("ready")
			}
			if !ready && time.Since(start) > *maxWait {
				fmt.Fprintf(os.Stderr, "healload: not %d answers in a row within %s (last error: %v)\n", *okRun, *maxWait, err)
				os.Exit(1)
			}
		} else if end.UnixNano() > t0 { // ended after the loss: it counts
			requests++
			if err != nil {
				failed++
				if firstFail < 0 {
					firstFail = end.UnixNano() - t0
				}
				lastFl = end.UnixNano() - t0
				lastFlStart = begin.UnixNano() - t0
				streak = 0
			} else {
				backends[name] = true
				if streak == 0 {
					streakStart = max(begin.UnixNano(), t0)
				}
				streak++
			}
			if streak >= *okRun {
				healed := streakStart - t0
				if failed == 0 {
					healed = 0
				}
				fmt.Printf("healed_ms=%d requests=%d failures=%d first_fail_ms=%d last_fail_start_ms=%d last_fail_ms=%d backends=%d\n",
					healed/1e6, requests, failed, ms(firstFail), ms(lastFlStart), ms(lastFl), len(backends))
				return
			}
			if end.UnixNano()-t0 > maxWait.Nanoseconds() {
				fmt.Printf("healed_ms=-1 requests=%d failures=%d first_fail_ms=%d last_fail_start_ms=%d last_fail_ms=%d backends=%d\n",
					requests, failed, ms(firstFail), ms(lastFlStart), ms(lastFl), len(backends))
				fmt.Fprintf(os.Stderr, "healload: not healed within %s of t0 (last error: %v)\n", *maxWait, err)
				if lw != nil {
					lw.Flush()
				}
				os.Exit(1)
			}
		}
		if d := *interval - time.Since(begin); d > 0 {
			time.Sleep(d)
		}
	}
}

func ms(ns int64) int64 {
	if ns < 0 {
		return -1
	}
	return ns / 1e6
}
