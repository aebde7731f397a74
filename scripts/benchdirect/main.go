// Command benchdirect is the baseline for scripts/bench-create.sh: it starts
// N containers straight through the Docker Engine API, in parallel, the way
// sw's executor does for a task (ContainerCreate with a name, labels, env and
// a stop timeout on the swarm's task network (-network, with -dns as the
// containers' name server; default: the default bridge), then
// ContainerStart), and
// prints how long that took in seconds: from the first call until the last
// ContainerStart returned. The containers are then removed (forced), outside
// the timing.
//
//	go run ./scripts/benchdirect -n 30 [-image sw-demo:latest] [-label com.sw.bench=direct] [-network NET -dns IP]
//
// With -rolling K it is the baseline of scripts/bench-rollout.sh instead:
// it starts the N containers first (untimed), then replaces them K at a
// time, as a stop-first rolling update with parallelism K does (each of
// the K stops its old container, then creates and starts the new one; the
// next K begin when all K have started), and prints how long the
// replacement took.
//
// stdout holds only the seconds (e.g. "3.412"); errors go to stderr with a
// non-zero exit, and every container made is removed even then.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

func main() {
	n := flag.Int("n", 3, "number of containers to start")
	img := flag.String("image", "sw-demo:latest", "image to run")
	label := flag.String("label", "com.sw.bench=direct", "label KEY=VALUE put on every container (for cleanup)")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	network := flag.String("network", "", "network to join (default: the default bridge)")
	dns := flag.String("dns", "", "name server for the containers (with -network)")
	rolling := flag.Int("rolling", 0, "if > 0: start the containers untimed, then time replacing them this many at a time")
	flag.Parse()
	if *n < 1 {
		fatal(errors.New("-n must be at least 1"))
	}
	lk, lv, ok := strings.Cut(*label, "=")
	if !ok || lk == "" {
		fatal(fmt.Errorf("-label %q is not KEY=VALUE", *label))
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		fatal(err)
	}
	defer cli.Close()
	// Negotiate the API version and check the image before the clock starts:
	// sw's daemon has a warm client, and a missing image is a setup error.
	if _, err := cli.Ping(ctx); err != nil {
		fatal(fmt.Errorf("cannot reach the Docker engine: %w", err))
	}
	if _, err := cli.ImageInspect(ctx, *img); err != nil {
		fatal(fmt.Errorf("image %s: %w", *img, err))
	}

	run := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	var (
		mu   sync.Mutex
		ids  []string
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	// start creates and starts slot i's container of generation gen and
	// returns its ID ("" on failure).
	start := func(i, gen int) string {
		name := fmt.Sprintf("benchdirect.%s.%d.%d", run, i, gen)
		grace := 10
		cfg := &container.Config{
			Image: *img,
			Env:   []string{"SW_TASK_NAME=" + name, "SW_TASK_SLOT=" + strconv.Itoa(i)},
			Labels: map[string]string{lk: lv, "com.sw.bench.run": run,
				"com.sw.bench.slot": strconv.Itoa(i)},
			StopTimeout: &grace,
		}
		host := &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled}}
		if *network != "" {
			host.NetworkMode = container.NetworkMode(*network)
		}
		if *dns != "" {
			host.DNS = []string{*dns}
		}
		resp, err := cli.ContainerCreate(ctx, cfg, host, nil, nil, name)
		if err != nil {
			fail(fmt.Errorf("create %s: %w", name, err))
			return ""
		}
		if err := cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
			fail(fmt.Errorf("start %s: %w", name, err))
		}
		return resp.ID
	}
	// all runs f for slots from..to-1 in parallel and waits.
	all := func(from, to int, f func(i int)) {
		for i := from; i < to; i++ {
			wg.Add(1)
			go func(i int) { defer wg.Done(); f(i) }(i)
		}
		wg.Wait()
	}
	slots := make([]string, *n)
	if *rolling > 0 {
		all(0, *n, func(i int) { slots[i] = start(i+1, 0) })
		if len(errs) > 0 {
			fatal(errors.Join(append(errs, removeRun(cli, lk, lv, run))...))
		}
	}
	began := time.Now()
	if *rolling > 0 {
		for from := 0; from < *n; from += *rolling {
			all(from, min(from+*rolling, *n), func(i int) {
				grace := 10
				if err := cli.ContainerStop(ctx, slots[i], container.StopOptions{Timeout: &grace}); err != nil {
					fail(fmt.Errorf("stop slot %d: %w", i+1, err))
				}
				slots[i] = start(i+1, 1)
			})
		}
	} else {
		all(0, *n, func(i int) { slots[i] = start(i+1, 0) })
	}
	elapsed := time.Since(began)
	for _, id := range slots {
		if id != "" {
			ids = append(ids, id)
		}
	}

	// Outside the timing: check they run, then remove them.
	var notRunning int
	if len(errs) == 0 {
		for _, id := range ids {
			c, err := cli.ContainerInspect(ctx, id)
			if err != nil || c.State == nil || !c.State.Running {
				notRunning++
			}
		}
	}
	rmErr := removeRun(cli, lk, lv, run)

	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, "benchdirect:", e)
		}
		os.Exit(1)
	}
	if notRunning > 0 {
		fatal(fmt.Errorf("%d of %d containers are not running after start", notRunning, *n))
	}
	if rmErr != nil {
		fatal(rmErr)
	}
	fmt.Printf("%.3f\n", elapsed.Seconds())
}

// removeRun force-removes every container of this run (found by label, so
// half-made ones are included), in parallel, and waits until they are gone.
func removeRun(cli *client.Client, lk, lv, run string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", lk+"="+lv), filters.Arg("label", "com.sw.bench.run="+run))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("listing containers to remove: %w", err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(cs))
	for _, c := range cs {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			if err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
				errc <- fmt.Errorf("remove %s: %w", id[:12], err)
			}
		}(c.ID)
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchdirect:", err)
	os.Exit(1)
}
