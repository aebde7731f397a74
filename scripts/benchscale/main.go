// Command benchscale is the scale simulation's cast (scripts/bench-scale.sh):
//
//	benchscale manager -name m1 -dir DIR -socket PATH
//	    one manager: the real daemon (Raft, store, orchestrator, scheduler,
//	    allocator, dispatcher, API socket for the sw CLI) on a fake engine.
//	    `sw swarm init` / `join` are then run against its socket.
//	benchscale workers -n 900 -first 1 -manager ADDR -token TOKEN -ip 127.0.91.
//	    N simulated workers (package simworker) in one process: each joins
//	    through the peer API, follows its own session, heartbeats, and
//	    runs its tasks with the real agent on a fake engine whose starts
//	    take -start-min..-start-max. Every -every it prints one line:
//	    "stats t=SECONDS started=N running=N reports=N updates=N"
//	    (containers started and running now on its engines, status reports
//	    acknowledged and the task updates they carried, since its start).
//
// Both run until SIGINT/SIGTERM (the workers may just be SIGKILLed: a
// host lost). Nothing listens beyond loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sw/cluster/daemon"
	"sw/cluster/fakeengine"
	"sw/cluster/simworker"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchscale manager|workers [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "manager":
		err = manager(ctx, os.Args[2:])
	case "workers":
		err = workers(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want manager or workers", os.Args[1])
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

// profile starts a CPU profile into path ("": none); stop writes it.
func profile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func logger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func manager(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	name := fs.String("name", "m1", "hostname")
	dir := fs.String("dir", "", "data dir (required)")
	socket := fs.String("socket", "", "API socket (required)")
	level := fs.String("log-level", "warn", "log level")
	raftTimeout := fs.Duration("raft-timeout", 0, "Raft heartbeat and election timeout (0: the daemon's default)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stop, err := profile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	if *dir == "" || *socket == "" {
		return errors.New("manager: -dir and -socket are required")
	}
	log, err := logger(*level)
	if err != nil {
		return err
	}
	log = log.With("node", *name)
	d, err := daemon.New(ctx, daemon.Config{DataDir: *dir, Socket: *socket, Hostname: *name, Logger: log,
		Engine: fakeengine.New("engine-" + *name), Fabric: fakeengine.Fabric{}, RaftTimeout: *raftTimeout})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

func workers(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("workers", flag.ContinueOnError)
	n := fs.Int("n", 100, "workers")
	first := fs.Int("first", 1, "number of the first worker (hostnames w0001…)")
	mgr := fs.String("manager", "", "a manager's swarm address host:port (required)")
	token := fs.String("token", "", "worker join token (required)")
	ipBase := fs.String("ip", "127.0.91.", "advertised addresses: this prefix and 1..250, then the next prefix's")
	startMin := fs.Duration("start-min", 50*time.Millisecond, "shortest container start")
	startMax := fs.Duration("start-max", 200*time.Millisecond, "longest container start")
	joins := fs.Int("joins", 8, "joins at once")
	every := fs.Duration("every", time.Second, "stats interval")
	spread := fs.Bool("spread", true, "spread the workers over the managers (false: all on the first the swarm lists)")
	level := fs.String("log-level", "error", "log level")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stop, err := profile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	if *mgr == "" || *token == "" || *n < 1 || *startMax < *startMin {
		return errors.New("workers: -manager, -token and -n >= 1 are required, -start-max >= -start-min")
	}
	log, err := logger(*level)
	if err != nil {
		return err
	}
	var started, reports, updates atomic.Int64
	span := int64(*startMax - *startMin)
	delay := func() time.Duration {
		started.Add(1)
		d := *startMin
		if span > 0 {
			d += time.Duration(rand.Int64N(span + 1))
		}
		return d
	}
	ws := make([]*simworker.Worker, *n)
	var jerr error
	var mu sync.Mutex
	sem := make(chan struct{}, max(*joins, 1))
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range ws {
		k := *first + i
		cfg := simworker.Config{Hostname: fmt.Sprintf("w%04d", k), Manager: *mgr, Token: *token,
			Addr: fmt.Sprintf("%s%d:2377", *ipBase, 1+(k-1)%250), StartDelay: delay, Log: log,
			Counted: func(u int) { reports.Add(1); updates.Add(int64(u)) }}
		if *spread {
			cfg.Spread = k
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var w *simworker.Worker
			var err error
			for try := 0; try < 5; try++ {
				if w, err = simworker.Join(ctx, cfg); err == nil || ctx.Err() != nil {
					break
				}
				time.Sleep(time.Duration(200*(try+1)) * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && jerr == nil {
				jerr = err
			}
			ws[i] = w
		}()
	}
	wg.Wait()
	if jerr != nil {
		return jerr
	}
	fmt.Printf("joined %d workers in %.3fs\n", *n, time.Since(t0).Seconds())
	var run sync.WaitGroup
	for _, w := range ws {
		run.Add(1)
		go func() { defer run.Done(); w.Run(ctx) }()
	}
	stats(ctx, io.Writer(os.Stdout), *every, t0, ws, &started, &reports, &updates)
	run.Wait()
	return ctx.Err()
}

func stats(ctx context.Context, out io.Writer, every time.Duration, t0 time.Time, ws []*simworker.Worker, started, reports, updates *atomic.Int64) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		running := 0
		for _, w := range ws {
			running += len(w.Engine.Running())
		}
		fmt.Fprintf(out, "stats t=%.3f started=%d running=%d reports=%d updates=%d\n",
			time.Since(t0).Seconds(), started.Load(), running, reports.Load(), updates.Load())
	}
}
