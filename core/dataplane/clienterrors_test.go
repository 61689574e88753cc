package dataplane_test

import (
	"testing"

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
	malformed := []struct{ name, raw string }{
		{"Host with a slash", "DELETE /api/items/42 HTTP/1.1\r\nHost: a/b\r\n\r\n"},
		{"Host with a query", "GET /x HTTP/1.1\r\nHost: a?b=c\r\n\r\n"},
		{"Host with a fragment", "GET /x HTTP/1.1\r\nHost: a#b\r\n\r\n"},
		{"Host with userinfo", "GET /x HTTP/1.1\r\nHost: user@a\r\n\r\n"},
		{"Host with a backslash", "GET /x HTTP/1.1\r\nHost: a\\b\r\n\r\n"},
		{"header name with a slash", "GET /x HTTP/1.1\r\nHost: a\r\nBad/Name: x\r\n\r\n"},
	}
	for _, m := range malformed {
		resps := parseResponses(t, exchange(t, g.addr, m.raw))
		if len(resps) != 1 || resps[0].Status != 400 {
			t.Errorf("%s: got %+v, want one 400", m.name, resps)
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
