package dataplane_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/internal/testnet"
)

// The event loops serve the common request themselves: many keep-alive
// GETs, HEAD and a 204 go through without one connection handed to the
// goroutine path, on one pooled connection to the endpoint; a request
// with a body is handed over with the bytes already read, and answered.
func TestEventLoopsServeCommonRequests(t *testing.T) {
	if runtime.GOOS != "linux" || goroutineHTTP {
		t.Skip("the event loops run on Linux, and not in the goroutine-only run")
	}
	t.Parallel()
	be := newRecorder(t)
	be.respond = func(req *rawRequest, c net.Conn, _ *bufio.Reader) bool {
		switch req.Target {
		case "/empty":
			io.WriteString(c, "HTTP/1.1 204 No Content\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n")
		case "/body":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.Body), req.Body)
		default:
			// The endpoint's Date passes unchanged; hop-by-hop headers go.
			io.WriteString(c, "HTTP/1.1 200 OK\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\n")
			if req.Method != "HEAD" {
				io.WriteString(c, "ok")
			}
		}
		return true
	}
	g := startGateway(t, simpleGateway("loop", be.addr, ""), dataplane.Options{}, engine.Options{})
	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	for i := range 50 {
		method := "GET"
		if i == 10 {
			method = "HEAD"
		}
		fmt.Fprintf(c, "%s /n%d HTTP/1.1\r\nHost: a\r\n\r\n", method, i)
		resp := readResponse(t, br, method)
		if resp.Status != 200 || method == "GET" && string(resp.Body) != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.Status, resp.Body)
		}
		if got := resp.Header.Get("Date"); got != "Mon, 02 Jan 2006 15:04:05 GMT" {
			t.Fatalf("Date %q, want the endpoint's", got)
		}
		if resp.Header.Get("X-Hop") != "" || resp.Header.Get("Connection") != "" {
			t.Fatalf("hop-by-hop headers reached the client: %v", resp.Header)
		}
	}
	io.WriteString(c, "GET /empty HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp := readResponse(t, br, "GET"); resp.Status != 204 {
		t.Fatalf("204 came back as %d", resp.Status)
	}
	if n := metricValue(t, g.dp, "turnout_http_handoffs_total", nil); n != 0 {
		t.Fatalf("%v connections handed to the goroutine path, want 0", n)
	}
	if n := be.conns.Load(); n != 1 {
		t.Fatalf("the endpoint saw %d connections for sequential requests, want 1 (pooled)", n)
	}

	// A small body of known length is taken whole and sent with the head
	// (written in two parts, which may or may not arrive in one read).
	io.WriteString(c, "POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab")
	io.WriteString(c, "cd")
	if resp := readResponse(t, br, "POST"); resp.Status != 200 || string(resp.Body) != "abcd" {
		t.Fatalf("request with a small body: %d %q", resp.Status, resp.Body)
	}
	if n := metricValue(t, g.dp, "turnout_http_handoffs_total", nil); n != 0 {
		t.Fatalf("%v handoffs after a small body, want 0", n)
	}
	// A chunked body is streamed by the goroutine path.
	io.WriteString(c, "POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n")
	if resp := readResponse(t, br, "POST"); resp.Status != 200 || string(resp.Body) != "wxyz" {
		t.Fatalf("request with a chunked body: %d %q", resp.Status, resp.Body)
	}
	if n := metricValue(t, g.dp, "turnout_http_handoffs_total", nil); n != 1 {
		t.Fatalf("%v handoffs after a chunked body, want 1", n)
	}
	// The handed-over connection keeps serving.
	io.WriteString(c, "GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp := readResponse(t, br, "GET"); resp.Status != 200 {
		t.Fatalf("after the handoff: %d", resp.Status)
	}

	// HTTP/1.0 cannot read a chunked response forwarded as it comes: the
	// goroutine path answers it.
	resps := parseResponses(t, exchange(t, g.addr, "GET /old HTTP/1.0\r\nHost: a\r\n\r\n"))
	if len(resps) != 1 || resps[0].Status != 200 {
		t.Fatalf("HTTP/1.0 request: %+v", resps)
	}
	if n := metricValue(t, g.dp, "turnout_http_handoffs_total", nil); n != 2 {
		t.Fatalf("%v handoffs after an HTTP/1.0 request, want 2", n)
	}
}

// A close-delimited response (no length, not chunked) reaches the client
// whole, and the client's connection is closed after it, since that is
// the only way the client can tell where it ends.
func TestCloseDelimitedResponse(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 100<<10)
	be := newRecorder(t)
	be.respond = func(_ *rawRequest, c net.Conn, _ *bufio.Reader) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"+body)
		return false
	}
	g := startGateway(t, simpleGateway("close", be.addr, ""), dataplane.Options{}, engine.Options{})
	resps := parseResponses(t, exchange(t, g.addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	if len(resps) != 1 || resps[0].Status != 200 || string(resps[0].Body) != body {
		t.Fatalf("got %d responses; want one 200 with the %d-byte body", len(resps), len(body))
	}
}

// TestGoroutinePath runs the protocol and security tests again with HTTP
// served by goroutines only (Options.GoroutineHTTP), the path every
// connection the loops hand over takes.
func TestGoroutinePath(t *testing.T) {
	if goroutineHTTP || testing.Short() {
		t.Skip("this is the goroutine-only run, or -short")
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^(TestKeepAlive|TestPipelined|TestStreaming|TestRouteTimeout|TestLargeResponse|TestWebSocket|TestRequestSmuggling|TestAbsoluteForm|TestRequestTarget|TestRefusedUpgrade|TestHeaderSizeLimits|TestResponseHeaderTooLarge|TestBrokenExchange|TestSlowClients|TestHopByHop|TestFailureStatuses|TestDeadEndpoint|TestVirtualHosts|TestRewrites|TestTruncatedSmallBody|TestCloseDelimited|TestSlowClientHolds|TestShutdownFinishes|TestAccessLog|TestStaleEndpointConnections|TestClientErrorsAreNotTheRoutes|TestReadTimeoutAnswers408|TestBareLFHeadIsRefusedAtOnce|TestReadTimeoutIsIdleTimeForBodies|TestResponseForms|TestAccessLogRequestIDAndSizes|TestConditionForms|TestTrafficMetrics)")
	cmd.Env = append(os.Environ(), "TURNOUT_TEST_GOROUTINE_HTTP=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("goroutine-only run failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("goroutine-only run ran nothing:\n%s", out)
	}
}

// A client that stops reading holds the endpoint back: the loop keeps at
// most a buffer of the response, so what the endpoint manages to write is
// bounded by socket buffers, and all of it arrives once the client reads.
func TestSlowClientHoldsTheEndpointBack(t *testing.T) {
	t.Parallel()
	const bound = 64 << 20 // far above the loopback socket buffers on the way
	wrote := make(chan int, 1)
	be := newRecorder(t)
	be.respond = func(_ *rawRequest, c net.Conn, _ *bufio.Reader) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		chunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", 1<<20, strings.Repeat("x", 1<<20)))
		n := 0
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		for n < 4*bound {
			w, err := c.Write(chunk)
			n += w
			if err != nil {
				break
			}
		}
		wrote <- n
		return false
	}
	g := startGateway(t, simpleGateway("slow", be.addr, "{timeout: 30s}"), dataplane.Options{}, engine.Options{})
	c := dial(t, g.addr)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	n := <-wrote // the endpoint gave up writing: nobody reads
	if n >= bound {
		t.Fatalf("the endpoint wrote %d MiB to a client that reads nothing: no backpressure", n>>20)
	}
	t.Logf("held back after %.1f MiB", float64(n)/(1<<20))
	got, _ := io.Copy(io.Discard, c) // the endpoint hung up mid-body: the gateway closes after what came
	if got < int64(n) {
		t.Fatalf("the client read %d bytes, fewer than the %d the endpoint wrote", got, n)
	}
}

// A shutdown lets the request in flight finish (its response says the
// connection closes after it), closes idle keep-alive connections at once,
// and returns once they are done.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	be := newRecorder(t)
	be.respond = func(req *rawRequest, c net.Conn, _ *bufio.Reader) bool {
		if req.Target == "/slow" {
			<-release
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
		return true
	}
	g := startGateway(t, simpleGateway("drain", be.addr, ""), dataplane.Options{}, engine.Options{})
	idle := dial(t, g.addr)
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	idleBr := bufio.NewReader(idle)
	if resp := readResponse(t, idleBr, "GET"); resp.Status != 200 {
		t.Fatalf("first request: %d", resp.Status)
	}
	busy := dial(t, g.addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	testnet.Eventually(t, 5*time.Second, "the slow request reaching the endpoint", func() bool { return len(be.requests()) == 2 })
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- g.dp.Shutdown(ctx)
	}()
	if closed, _ := waitClosed(idle, 5*time.Second); !closed {
		t.Fatal("an idle keep-alive connection stayed open through the shutdown")
	}
	close(release)
	resp := readResponse(t, bufio.NewReader(busy), "GET")
	if resp.Status != 200 || string(resp.Body) != "done" || !resp.Close {
		t.Fatalf("request in flight got %d %q (close %v), want 200 done and the connection closing", resp.Status, resp.Body, resp.Close)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
