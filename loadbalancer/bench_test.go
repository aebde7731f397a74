package loadbalancer

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// The benchmarks run each workload straight to the backend ("direct") and
// through the proxy ("proxy"), so the proxy's cost is the difference.

// benchTargets returns the direct and proxied addresses of backend for
// proto, with the proxy set up and torn down around the benchmark.
func benchTargets(b *testing.B, proto, backend string) map[string]string {
	b.Helper()
	p := New(nil)
	b.Cleanup(func() { p.Close() })
	fe := frontend(b, proto)
	if err := p.Sync(map[Frontend][]string{fe: {backend}}); err != nil {
		b.Fatal(err)
	}
	return map[string]string{"direct": backend, "proxy": fe.Addr}
}

// sinkBackend starts a TCP server that reads everything, then answers with
// the byte count and closes.
func sinkBackend(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 256<<10)
				var total int64
				for {
					n, err := c.Read(buf)
					total += int64(n)
					if err != nil {
						break
					}
				}
				io.WriteString(c, strconv.FormatInt(total, 10))
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkTCPStream measures one-way bulk throughput over one connection.
func BenchmarkTCPStream(b *testing.B) {
	for _, name := range []string{"direct", "proxy"} {
		b.Run(name, func(b *testing.B) {
			addr := benchTargets(b, "tcp", sinkBackend(b))[name]
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			chunk := make([]byte, 256<<10)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			var sent int64
			for b.Loop() {
				n, err := c.Write(chunk)
				sent += int64(n)
				if err != nil {
					b.Fatal(err)
				}
			}
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(time.Minute))
			got, err := io.ReadAll(c)
			if err != nil {
				b.Fatal(err)
			}
			if string(got) != strconv.FormatInt(sent, 10) {
				b.Fatalf("backend received %s bytes, sent %d", got, sent)
			}
		})
	}
}

// BenchmarkTCPConnect measures short request/response connections: dial,
// send a line, half-close, read the answer.
func BenchmarkTCPConnect(b *testing.B) {
	for _, name := range []string{"direct", "proxy"} {
		b.Run(name, func(b *testing.B) {
			addr := benchTargets(b, "tcp", tcpBackend(b, "b"))[name]
			b.ReportAllocs()
			for b.Loop() {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				io.WriteString(c, "hello\n")
				c.(*net.TCPConn).CloseWrite()
				line, err := bufio.NewReader(c).ReadString('\n')
				c.Close()
				if err != nil || line != "b:hello\n" {
					b.Fatalf("got %q, %v", line, err)
				}
			}
		})
	}
}

// udpEchoServer starts a UDP server echoing every datagram verbatim.
func udpEchoServer(b *testing.B) string {
	b.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return pc.LocalAddr().String()
}

// BenchmarkUDPEcho measures request/response datagrams of 1 KiB, one in
// flight at a time.
func BenchmarkUDPEcho(b *testing.B) {
	for _, name := range []string{"direct", "proxy"} {
		b.Run(name, func(b *testing.B) {
			addr := benchTargets(b, "udp", udpEchoServer(b))[name]
			ra, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				b.Fatal(err)
			}
			c, err := net.DialUDP("udp", nil, ra)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg := make([]byte, 1024)
			buf := make([]byte, maxDatagram)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
