// Command dnsload sends A queries for one name as fast as it can from
// several concurrent UDP clients for a while, then prints one line:
// "qps=N p50_ms=X p99_ms=Y ok=N failed=N". bench-dns.sh runs it inside a
// container on a swarm's task network.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("server", "127.0.0.11:53", "name server ip:port")
	name := flag.String("name", "web", "name to resolve")
	conc := flag.Int("c", 8, "concurrent clients")
	dur := flag.Duration("d", 5*time.Second, "how long to send")
	flag.Parse()

	var (
		mu        sync.Mutex
		lat       []time.Duration
		ok, fails int
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(*dur)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			conn, err := c.Dial(*server)
			if err != nil {
				fmt.Fprintln(os.Stderr, "dnsload:", err)
				os.Exit(1)
			}
			defer conn.Close()
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(*name), dns.TypeA)
			for time.Now().Before(deadline) {
				m.Id = dns.Id()
				start := time.Now()
				resp, _, err := c.ExchangeWithConn(m, conn)
				if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0 {
					bad++
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			fails += bad
			ok += len(mine)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ok == 0 {
		fmt.Fprintf(os.Stderr, "dnsload: no answer for %s from %s (%d failures)\n", *name, *server, fails)
		os.Exit(1)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("qps=%.0f p50_ms=%.3f p99_ms=%.3f ok=%d failed=%d\n", float64(ok)/dur.Seconds(),
		ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ok, fails)
}
