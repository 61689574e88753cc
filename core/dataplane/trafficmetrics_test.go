package dataplane_test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/internal/testnet"
)

// What the routes' and gateways' series count, through real sockets: the
// bytes exactly as the client sent and received them, status codes with
// their class, the gateway's own answers apart from the endpoints', retries
// apart from errors, requests no route took without a route label, and TCP
// connections in series of their own.
func TestTrafficMetrics(t *testing.T) {
	t.Parallel()
	t.Run("codes, bytes and endpoint latency", func(t *testing.T) {
		t.Parallel()
		be := newRecorder(t)
		g := startGateway(t, simpleGateway("bytes", be.addr, ""), dataplane.Options{}, engine.Options{})
		raw := "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		got := exchange(t, g.addr, raw)
		if resps := parseResponses(t, got); len(resps) != 2 || resps[1].Status != 200 {
			t.Fatalf("responses: %+v", resps)
		}
		gw := map[string]string{"gateway": "bytes"}
		testnet.Eventually(t, ioTimeout, "the bytes counted", func() bool {
			return metricValue(t, g.dp, "turnout_received_bytes_total", gw) == float64(len(raw)) &&
				metricValue(t, g.dp, "turnout_sent_bytes_total", gw) == float64(len(got))
		})
		r := "[" + be.addr + "]"
		if n := metricValue(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "bytes", "route": r, "class": "2xx", "code": "200"}); n != 2 {
			t.Errorf("2xx/200 requests: %v, want 2", n)
		}
		if n := histogramCount(t, g.dp, "turnout_endpoint_response_seconds", map[string]string{"endpoint": be.addr}); n != 2 {
			t.Errorf("endpoint latencies observed: %d, want 2", n)
		}
	})
	t.Run("the gateway's own answer is class error", func(t *testing.T) {
		t.Parallel()
		dead := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
		g := startGateway(t, simpleGateway("dead", dead, "{retries: 0}"), dataplane.Options{}, engine.Options{})
		if resps := parseResponses(t, exchange(t, g.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); len(resps) != 1 || resps[0].Status != 502 {
			t.Fatalf("responses: %+v, want one 502", resps)
		}
		r := "[" + dead + "]"
		if n := metricValue(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "dead", "route": r, "class": "error", "code": "502"}); n != 1 {
			t.Errorf("error/502 requests: %v, want 1", n)
		}
		if n := metricValue(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "dead", "class": "5xx"}); n != 0 {
			t.Errorf("5xx requests: %v, want 0 (no endpoint answered)", n)
		}
		if n := errorCount(t, g.dp, "dead", r, "connect"); n != 1 {
			t.Errorf("connect errors: %v, want 1", n)
		}
	})
	t.Run("a retried request is not an error", func(t *testing.T) {
		t.Parallel()
		be := newRecorder(t)
		dead := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
		doc := "name: retry\nport: {{port}}\nroutes:\n  \"[svc.test:80]\": {retries: 1}\n"
		g := startGateway(t, doc, dataplane.Options{EjectFor: time.Minute},
			engine.Options{Resolve: map[string][]string{"svc.test:80": {dead, be.addr}}})
		// Round robin: one of the two goes to the dead endpoint first.
		for range 2 {
			if resps := parseResponses(t, exchange(t, g.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); len(resps) != 1 || resps[0].Status != 200 {
				t.Fatalf("responses: %+v, want one 200", resps)
			}
		}
		labels := map[string]string{"gateway": "retry", "route": "[svc.test:80]"}
		if n := metricValue(t, g.dp, "turnout_retries_total", labels); n != 1 {
			t.Errorf("retries: %v, want 1", n)
		}
		if n := errorCount(t, g.dp, "retry", "[svc.test:80]", "connect"); n != 1 {
			t.Errorf("connect errors: %v, want 1 (the attempt that failed)", n)
		}
		if n := metricValue(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "retry", "class": "error"}); n != 0 {
			t.Errorf("error-class requests: %v, want 0 (both were answered)", n)
		}
		if n := metricValue(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "retry", "class": "2xx"}); n != 2 {
			t.Errorf("2xx requests: %v, want 2", n)
		}
	})
	t.Run("requests no route took have no route label", func(t *testing.T) {
		t.Parallel()
		be := newRecorder(t)
		g := startGateway(t, simpleGateway("none", be.addr, "{weight: 0%}"), dataplane.Options{}, engine.Options{})
		if resps := parseResponses(t, exchange(t, g.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); len(resps) != 1 || resps[0].Status != 503 {
			t.Fatalf("responses: %+v, want one 503", resps)
		}
		if n := metricValue(t, g.dp, "turnout_unrouted_requests_total", map[string]string{"gateway": "none", "code": "503"}); n != 1 {
			t.Errorf("unrouted 503s: %v, want 1", n)
		}
		if n := seriesCount(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "none"}); n != 0 {
			t.Errorf("%d request series, want none", n)
		}
	})
	if goroutineHTTP {
		return // TCP is the same on both runs
	}
	t.Run("tcp", func(t *testing.T) {
		t.Parallel()
		echo := echoServer(t)
		g := startGateway(t, fmt.Sprintf("name: raw\nport: {{port}}/tcp\nroutes:\n  %s: {}\n", route(echo)), dataplane.Options{}, engine.Options{})
		got := exchange(t, g.addr, "hello, tcp")
		if string(got) != "hello, tcp" {
			t.Fatalf("echo: %q", got)
		}
		gw := map[string]string{"gateway": "raw"}
		testnet.Eventually(t, ioTimeout, "the connection and its bytes counted", func() bool {
			return metricValue(t, g.dp, "turnout_tcp_connections_total", map[string]string{"gateway": "raw", "result": "ok"}) == 1 &&
				metricValue(t, g.dp, "turnout_received_bytes_total", gw) == 10 &&
				metricValue(t, g.dp, "turnout_sent_bytes_total", gw) == 10
		})
		if n := seriesCount(t, g.dp, "turnout_requests_total", gw) + seriesCount(t, g.dp, "turnout_request_duration_seconds", gw); n != 0 {
			t.Errorf("%d HTTP series for a TCP gateway", n)
		}
		if n := histogramCount(t, g.dp, "turnout_endpoint_response_seconds", map[string]string{"endpoint": echo}); n != 1 {
			t.Errorf("endpoint connects observed: %d, want 1", n)
		}
	})
}

// echoServer sends back what it reads, until the client half-closes.
func echoServer(t testing.TB) string {
	return serveEach(t, func(c net.Conn) { io.Copy(c, c) })
}

// serveEach listens on 127.0.0.1 until the test ends and runs serve on
// each connection, in a goroutine of its own, closing it after.
func serveEach(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}
