// Command healload measures how long a published service takes to serve
// without errors again after a host is lost. One client sends short HTTP
// GETs one after the other (a new connection each, a timeout each) to one
// URL. Once it has had -ok answers in a row it prints "ready". The caller
// then takes t0, loses the host, and once the loss is done (tk) writes
// "T0 TK" (unix nanoseconds) to the file named by -t0. healload keeps every
// request, so it judges them from there back to t0: healed is the first
// moment after which -ok requests in a row all succeed, among the requests
// that ended after tk (the host surely gone: a run of answers from before the
// loss took effect does not count). It prints one line and exits:
//
//	healed_ms=N requests=N failures=N first_fail_ms=N last_fail_start_ms=N last_fail_ms=N kill_ms=N backends=N
//
// all from t0: healed_ms is healed − t0 (0 if no request failed after t0);
// requests and failures count the requests that ended after t0;
// first_fail_ms and last_fail_ms are when the first and the last failed
// ones ended, last_fail_start_ms when the last one started (-1 if none;
// with one request at a time, the path healed somewhere between the last
// failure's start and healed); kill_ms is tk − t0; backends how many
// different "hello from NAME" answers came after t0. A request fails on any
// error: no connection, a timeout, a status other than 200, a body that is
// not "hello from ...". It exits 1 if not healed within -max after t0, or
// not ready within -max from its start. -log FILE writes every request as
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

	type rec struct {
		begin, end int64
		err        error
		name       string
	}
	var (
		recs              []rec
		judged            int   // recs[:judged] are judged
		t0, tk            int64 // from the -t0 file; 0 until it is there
		ready             bool
		streak            int
		streakStart       int64
		requests, failed  int
		firstFail, lastFl int64 = -1, -1
		lastFlStart       int64 = -1
		backends                = map[string]bool{}
	)
	result := func(healed int64) string {
		return fmt.Sprintf("healed_ms=%d requests=%d failures=%d first_fail_ms=%d last_fail_start_ms=%d last_fail_ms=%d kill_ms=%d backends=%d",
			ms(healed), requests, failed, ms(firstFail), ms(lastFlStart), ms(lastFl), ms(tk-t0), len(backends))
	}
	start := time.Now()
	for {
		begin := time.Now()
		name, err := get()
		end := time.Now()
		recs = append(recs, rec{begin.UnixNano(), end.UnixNano(), err, name})
		if lw != nil {
			st, detail := "ok", name
			if err != nil {
				st, detail = "err", err.Error()
			}
			fmt.Fprintf(lw, "%d %d %s %s\n", begin.UnixNano(), end.UnixNano(), st, detail)
		}
		if t0 == 0 {
			if b, rerr := os.ReadFile(*t0File); rerr == nil {
				f := strings.Fields(string(b))
				if len(f) >= 1 {
					a, _ := strconv.ParseInt(f[0], 10, 64)
					k := a
					if len(f) >= 2 {
						k, _ = strconv.ParseInt(f[1], 10, 64)
					}
					if a > 0 && k >= a {
						t0, tk, streak = a, k, 0
					}
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
			judged = len(recs)
		}
		// Judge what is not judged yet (at t0's arrival: back to t0).
		for ; t0 != 0 && judged < len(recs); judged++ {
			r := recs[judged]
			if r.end <= t0 {
				continue
			}
			requests++
			if r.err != nil {
				failed++
				if firstFail < 0 {
					firstFail = r.end - t0
				}
				lastFl, lastFlStart = r.end-t0, r.begin-t0
				streak = 0
				continue
			}
			backends[r.name] = true
			if r.end <= tk {
				continue // the loss may not have taken effect yet
			}
			if streak == 0 {
				streakStart = max(r.begin, t0)
			}
			streak++
			if streak >= *okRun {
				healed := streakStart - t0
				if failed == 0 {
					healed = 0
				}
				fmt.Println(result(healed))
				return
			}
		}
		if t0 != 0 && end.UnixNano()-t0 > maxWait.Nanoseconds() {
			fmt.Println(result(-1))
			fmt.Fprintf(os.Stderr, "healload: not healed within %s of t0 (last error: %v)\n", *maxWait, err)
			if lw != nil {
				lw.Flush()
			}
			os.Exit(1)
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
