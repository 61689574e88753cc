package dataplane_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/internal/testnet"
)

// clientForm is one way a client may write a request, raw.
type clientForm struct {
	name string
	raw  string
	// refusedOnPurpose, when set, says why Turnout refuses a form that
	// HAProxy forwards; forwardedOnPurpose why it forwards one HAProxy
	// refuses. Any other difference fails the test.
	refusedOnPurpose, forwardedOnPurpose string
	// goroutinesWait: the goroutine engine refuses it by closing at its
	// read timeout rather than with an answer.
	goroutinesWait bool
}

// clientForms are the forms clients send that proxies disagree on: the
// request line, the Host header, header syntax and body framing. Every one
// ends with "Connection: close" where it has headers, so one response ends
// the exchange.
var clientForms = []clientForm{
	{name: "origin-form", raw: "GET /a?b=c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "HTTP/1.0 without Host", raw: "GET / HTTP/1.0\r\n\r\n"},
	{name: "HTTP/1.0 with Host", raw: "GET / HTTP/1.0\r\nHost: a\r\n\r\n"},
	{name: "HTTP/1.1 without Host", raw: "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
		refusedOnPurpose: "RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host; routing by host and the Host sent to endpoints need it"},
	{name: "two Host headers", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"},
	{name: "empty Host", raw: "GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",
		refusedOnPurpose: "a limit, not a choice: fasthttp's parser takes an empty Host for a missing one (400). RFC 9112 3.2 allows it only for targets without an authority, which HTTP clients do not send"},
	{name: "Host with port", raw: "GET / HTTP/1.1\r\nHost: a:8080\r\nConnection: close\r\n\r\n"},
	{name: "Host with userinfo", raw: "GET / HTTP/1.1\r\nHost: u@a\r\nConnection: close\r\n\r\n",
		refusedOnPurpose: "RFC 9112 3.2: a Host that is not uri-host[:port] MUST get 400; fasthttp would have turned the userinfo into an Authorization header"},
	{name: "absolute-form", raw: "GET http://a/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "absolute-form, other Host", raw: "GET http://a/x HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
		forwardedOnPurpose: "RFC 9112 3.2.2: the target's authority wins over Host, and the endpoint gets it as Host (TestAbsoluteFormTarget); HAProxy 2.6 refuses the mismatch instead"},
	{name: "asterisk-form OPTIONS", raw: "OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "extension method", raw: "PURGE /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "lower-case method", raw: "get /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "TRACE", raw: "TRACE /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	// Passed to the route's endpoint, never to the host it names
	// (TestRequestTargetNeverRedirectsTraffic).
	{name: "CONNECT", raw: "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nConnection: close\r\n\r\n"},
	{name: "UTF-8 in path", raw: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		forwardedOnPurpose: "some clients send UTF-8 paths unencoded; the endpoint gets the bytes as sent and decides, and no routing rule needs the path to be ASCII"},
	{name: "pipe and braces in path", raw: "GET /a|b{c} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "fragment in path", raw: "GET /a#b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "percent-encoded slash", raw: "GET /a%2Fb HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "dot segments", raw: "GET /a/../b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "long URI (6 KiB)", raw: "GET /" + strings.Repeat("a", 6<<10) + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "underscore in header name", raw: "GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_User: x\r\nConnection: close\r\n\r\n"},
	{name: "empty header value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nConnection: close\r\n\r\n"},
	{name: "UTF-8 in header value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\nConnection: close\r\n\r\n"},
	{name: "header without a space after the colon", raw: "GET / HTTP/1.1\r\nHost:a\r\nConnection:close\r\n\r\n"},
	{name: "space before the colon", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\nConnection: close\r\n\r\n"},
	{name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\nConnection: close\r\n\r\n"},
	{name: "control byte in a value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x012\r\nConnection: close\r\n\r\n",
		refusedOnPurpose: "RFC 9110 5.5: control bytes make a field value invalid; HAProxy passes it on and a strict endpoint refuses it (the 502 here), so the client gets a 400 at once instead"},
	{name: "bare LF line ends", raw: "GET / HTTP/1.1\nHost: a\nConnection: close\n\n",
		refusedOnPurpose: "RFC 9112 section 2.2 lets a recipient accept a bare LF, and a mismatch between two parsers on line ends is a smuggling vector; Turnout forwards only CRLF heads",
		// A limit: fasthttp's own server waits for a CRLF, so the goroutine
		// engine answers 408 at its read timeout, not 400 at once.
		goroutinesWait: true},
	{name: "Content-Length body", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"},
	{name: "GET with a body", raw: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"},
	{name: "two equal Content-Length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
		refusedOnPurpose: "RFC 9110 8.6 lets a recipient reject repeated lengths, and repeated framing headers are how requests get smuggled past a proxy that reads them differently"},
	{name: "two different Content-Length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd"},
	{name: "Content-Length list", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nConnection: close\r\n\r\nabc",
		refusedOnPurpose: "as two equal Content-Length headers: a list is one way of repeating the length"},
	{name: "signed Content-Length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\nConnection: close\r\n\r\nabc"},
	{name: "chunked body", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{name: "chunk extension", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;x=1\r\nabc\r\n0\r\n\r\n"},
	{name: "chunked with trailer", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"},
	// Forwarded chunked, without Content-Length (RFC 9112 6.1), as HAProxy
	// does; the endpoint here refuses any message with both.
	{name: "Transfer-Encoding and Content-Length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{name: "Transfer-Encoding gzip, chunked", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{name: "Transfer-Encoding identity", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nConnection: close\r\n\r\n",
		forwardedOnPurpose: "fasthttp drops the obsolete identity coding: the request reaches the endpoint without it and without a body, so both sides frame it alike"},
	{name: "Expect 100-continue", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabc"},
	{name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{name: "HTTP/0.9", raw: "GET /\r\n\r\n"},
	{name: "HTTP/2 preface on a plain port", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
}

// formResult is what one proxy did with one form: the status it answered
// (0: none, the connection closed) and whether the endpoint saw a request.
type formResult struct {
	status    int
	forwarded bool
}

func (r formResult) String() string {
	fw := "refused"
	if r.forwarded {
		fw = "forwarded"
	}
	return fmt.Sprintf("%s (%d)", fw, r.status)
}

// TestRequestFormsAgainstHAProxy sends every form of clientForms to a
// real HAProxy 2.6 in front of an endpoint (what Vamp and Marathon-LB
// run) and to both of Turnout's HTTP engines, and checks that Turnout
// forwards what HAProxy forwards and refuses what it refuses, except the
// forms listed with their reasons (docs/gateways.md, "Request forms").
func TestRequestFormsAgainstHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin := testnet.Tool(t, "haproxy", "apt-get install -y haproxy")
	t.Parallel()
	fronts := map[string]func(be *recorder) string{
		"haproxy": func(be *recorder) string { return startHAProxy(t, bin, be.addr) },
	}
	engines := []string{"goroutines", "event loops"}
	if goroutineHTTP {
		engines = engines[:1] // the second run serves every port on goroutines
	}
	for _, engineName := range engines {
		fronts[engineName] = func(be *recorder) string {
			o := dataplane.Options{GoroutineHTTP: engineName == "goroutines"}
			return startGateway(t, simpleGateway("forms", be.addr, ""), o, engine.Options{}).addr
		}
	}
	results := map[string]map[string]formResult{}
	for name, start := range fronts {
		be := newRecorder(t)
		addr := start(be)
		results[name] = map[string]formResult{}
		for _, f := range clientForms {
			before := len(be.rawBytes())
			status := sendForm(t, addr, f.raw)
			results[name][f.name] = formResult{status: status, forwarded: len(be.rawBytes()) > before}
		}
	}
	var table strings.Builder
	for _, f := range clientForms {
		h, g := results["haproxy"][f.name], results["goroutines"][f.name]
		l, ok := results["event loops"][f.name]
		if !ok {
			l = g
		}
		fmt.Fprintf(&table, "%-40s haproxy %-16s goroutines %-16s event loops %s\n", f.name, h, g, l)
		for engineName, r := range map[string]formResult{"goroutines": g, "event loops": l} {
			switch {
			case h.forwarded == r.forwarded:
			case h.forwarded && f.refusedOnPurpose == "":
				t.Errorf("%s: HAProxy forwards it (%d), Turnout's %s refuses it (%d)", f.name, h.status, engineName, r.status)
			case !h.forwarded && f.forwardedOnPurpose == "":
				t.Errorf("%s: HAProxy refuses it (%d), Turnout's %s forwards it (%d)", f.name, h.status, engineName, r.status)
			}
		}
		if f.refusedOnPurpose != "" && (!h.forwarded || g.forwarded || l.forwarded) {
			t.Errorf("%s is listed as refused on purpose, but HAProxy %s, goroutines %s, event loops %s", f.name, h, g, l)
		}
		if f.refusedOnPurpose != "" && ((g.status < 400 && !f.goroutinesWait) || (l.status < 400 && !(goroutineHTTP && f.goroutinesWait))) {
			t.Errorf("%s: refused without a 4xx or 5xx answer: goroutines %s, event loops %s", f.name, g, l)
		}
		if f.forwardedOnPurpose != "" && (h.forwarded || !g.forwarded || !l.forwarded) {
			t.Errorf("%s is listed as forwarded on purpose, but HAProxy %s, goroutines %s, event loops %s", f.name, h, g, l)
		}
	}
	t.Logf("what each proxy did with each form:\n%s", table.String())
}

// sendForm writes raw on a new connection and returns the status of the
// final response, after any 1xx (0 if the connection closed without one).
func sendForm(t *testing.T, addr, raw string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write([]byte(raw)); err != nil {
		return 0
	}
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		if resp.StatusCode >= 200 {
			return resp.StatusCode
		}
	}
}

// startHAProxy runs HAProxy in HTTP mode on a free 127.0.0.1 port in
// front of backend, with its defaults (what Marathon-LB's template keeps
// for request parsing), until the test ends.
func startHAProxy(t *testing.T, bin, backend string) string {
	t.Helper()
	port := testnet.FreePort(t)
	cfg := fmt.Sprintf(`defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend f
  bind 127.0.0.1:%d
  default_backend b
backend b
  server s %s
`, port, backend)
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", file)
	out := &testnet.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testnet.Eventually(t, 10*time.Second, "haproxy listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}
