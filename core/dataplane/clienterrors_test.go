package dataplane_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
)

// Anyone can send a malformed request. What the gateway answers to one
// itself is counted apart (turnout_client_errors_total) and never as a
// failure of the route, which a canary's analysis reads: otherwise a
// stranger could roll back a healthy canary with junk.
func TestClientErrorsAreNotTheRoutes(t *testing.T) {
	t.Parallel()
	be := newRecorder(t)
	g := startGateway(t, simpleGateway("junk", be.addr, ""), dataplane.Options{}, engine.Options{})
	route := "[" + be.addr + "]"

	// Each gets a 400, from fasthttp's parser or from the gateway's own
	// checks (a Host with userinfo parses, and would reach the endpoint
	// as Host "a" with the user in an Authorization header).
	raw, err := os.ReadFile("testdata/malformed-requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var malformed []struct{ Name, Request string }
	if err := json.Unmarshal(raw, &malformed); err != nil {
		t.Fatal(err)
	}
	for _, m := range malformed {
		resps := parseResponses(t, exchange(t, g.addr, m.Request))
		if len(resps) != 1 || resps[0].Status != 400 {
			t.Errorf("%s: got %+v, want one 400", m.Name, resps)
		}
	}
	// A chunked body the client breaks off mid-chunk, and one with a
	// chunk size that is not hex.
	for _, raw := range []string{
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	} {
		resps := parseResponses(t, exchange(t, g.addr, raw))
		if len(resps) == 1 && resps[0].Status != 400 {
			t.Errorf("broken body %q: answered %d, want 400 or nothing", raw, resps[0].Status)
		}
	}
	for _, r := range be.requests() {
		if r.Target != "/up" {
			t.Errorf("a malformed request reached the endpoint: %s %s %q", r.Method, r.Target, r.Lines)
		}
	}

	// HTTP/1.0 needs no Host: the endpoint answers it, with its own
	// address as the Host.
	resps := parseResponses(t, exchange(t, g.addr, "GET /old HTTP/1.0\r\n\r\n"))
	if len(resps) != 1 || resps[0].Status != 200 {
		t.Fatalf("HTTP/1.0 without Host: %+v, want the endpoint's 200", resps)
	}
	var old *rawRequest
	for _, r := range be.requests() {
		if r.Target == "/old" {
			old = r
		}
	}
	if old == nil || old.Get("Host") != be.addr {
		t.Errorf("HTTP/1.0 without Host reached the endpoint as %+v, want Host %s", old, be.addr)
	}

	if n := metricValue(t, g.dp, "turnout_client_errors_total", map[string]string{"gateway": "junk", "kind": "head"}); n != float64(len(malformed)) {
		t.Errorf("turnout_client_errors_total{kind=head} = %v, want %d", n, len(malformed))
	}
	if n := metricValue(t, g.dp, "turnout_client_errors_total", map[string]string{"gateway": "junk", "kind": "body"}); n < 1 {
		t.Errorf("turnout_client_errors_total{kind=body} = %v, want the broken bodies counted", n)
	}
	for _, class := range []string{"error", "4xx", "5xx"} {
		if n := metricValue(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "junk", "route": route, "class": class}); n != 0 {
			t.Errorf("the route has %v requests of class %s, want 0: the client's errors are not the route's", n, class)
		}
	}
	for _, kind := range []string{"connect", "timeout", "upstream", "no_endpoint"} {
		if n := errorCount(t, g.dp, "junk", route, kind); n != 0 {
			t.Errorf("turnout_errors_total{kind=%s} = %v for the route, want 0", kind, n)
		}
	}
	if n := metricValue(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "junk", "route": route, "class": "2xx"}); n != 1 {
		t.Errorf("the route has %v 2xx, want 1 (the HTTP/1.0 request)", n)
	}
}

// A request that does not all come within the read timeout gets one 408
// from the gateway, counted as the client's: the event loops answer it
// themselves rather than hand the connection on (which started a second
// timeout on the goroutine path: 60 s for a 30 s --client-read-timeout).
func TestReadTimeoutAnswers408(t *testing.T) {
	t.Parallel()
	be := newRecorder(t)
	g := startGateway(t, simpleGateway("slow", be.addr, ""), dataplane.Options{ReadTimeout: 500 * time.Millisecond}, engine.Options{})
	cases := []struct{ name, raw, kind string }{
		{"half a head", "GET / HTTP/1.1\r\nHost: a\r\n", "head"},
		{"half a small body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf", "body"},
	}
	for _, tc := range cases {
		c := dial(t, g.addr)
		io.WriteString(c, tc.raw)
		closed, got := waitClosed(c, ioTimeout)
		resps := parseResponses(t, got)
		if !closed || len(resps) != 1 || resps[0].Status != 408 {
			t.Errorf("%s: closed %v, got %q; want one 408, then the close", tc.name, closed, got)
		}
		if !goroutineHTTP && !strings.Contains(string(resps[0].Body), "not sent in time") {
			t.Errorf("%s: %q: the loop handed the connection on instead of answering", tc.name, resps[0].Body)
		}
	}
	if len(be.requests()) != 0 {
		t.Errorf("the endpoint got %d requests", len(be.requests()))
	}
	if n := metricValue(t, g.dp, "turnout_client_errors_total", map[string]string{"gateway": "slow", "kind": "head"}); n < 1 {
		t.Errorf("client head errors %v, want the late head counted", n)
	}
}

// A head whose lines end in a lone LF is refused at once on the event
// loops (fasthttp, which parses heads, would wait for a CRLF until the
// read timeout); the goroutine path answers 408 at the read timeout.
func TestBareLFHeadIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	if goroutineHTTP {
		t.Skip("the goroutine path answers a bare-LF head at the read timeout (fasthttp)")
	}
	be := newRecorder(t)
	// A read timeout far beyond the test's I/O deadline: only an answer
	// given at once arrives in time.
	g := startGateway(t, simpleGateway("lf", be.addr, ""), dataplane.Options{ReadTimeout: time.Hour}, engine.Options{})
	for _, raw := range []string{
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\n\r\n",
	} {
		c := dial(t, g.addr)
		io.WriteString(c, raw)
		closed, got := waitClosed(c, ioTimeout)
		resps := parseResponses(t, got)
		if !closed || len(resps) != 1 || resps[0].Status != 400 || !strings.Contains(string(resps[0].Body), "LF without CR") {
			t.Errorf("%q: closed %v, got %q; want a 400 naming the bare LF", raw, closed, got)
		}
	}
	if len(be.requests()) != 0 {
		t.Errorf("the endpoint got %d requests", len(be.requests()))
	}
}

// The read timeout bounds a client's silence, not the length of its
// upload: a body that keeps coming for longer than the timeout reaches
// the endpoint whole, and one that stops coming gets a 408.
func TestReadTimeoutIsIdleTimeForBodies(t *testing.T) {
	t.Parallel()
	be := newClosingBackend(t, false)
	g := startGateway(t, simpleGateway("upload", be.addr, ""), dataplane.Options{ReadTimeout: 2 * time.Second}, engine.Options{})

	c := dial(t, g.addr)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "POST /slow HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	// A slow client: 20 chunks 200 ms apart, 4 s in all, twice the read
	// timeout, but never silent for long. The pauses are the slow client
	// itself, not a wait for something: only time passing past the read
	// timeout can show that it bounds silence and not the whole upload.
	// A pause is a tenth of the timeout, so a loaded machine's scheduling
	// delays do not turn one into silence.
	for range 20 {
		io.WriteString(c, "5\r\nhello\r\n")
		time.Sleep(200 * time.Millisecond)
	}
	io.WriteString(c, "0\r\n\r\n")
	resp := readResponse(t, bufio.NewReader(c), "POST")
	if resp.Status != 200 || string(resp.Body) != "got 100" {
		t.Errorf("slow upload: %d %q, want 200 %q", resp.Status, resp.Body, "got 100")
	}

	// A client that stops sending its body.
	c = dial(t, g.addr)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "POST /stalled HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	closed, got := waitClosed(c, 30*time.Second)
	resps := parseResponses(t, got)
	if !closed || len(resps) != 1 || resps[0].Status != 408 {
		t.Errorf("stalled upload: closed %v, got %q; want a 408", closed, got)
	}
	if n := metricValue(t, g.dp, "turnout_client_errors_total", map[string]string{"gateway": "upload", "kind": "body"}); n != 1 {
		t.Errorf("client body errors %v, want the stalled upload counted", n)
	}
}
