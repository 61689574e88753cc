package dataplane_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/internal/testnet"
)

// mirrorGateway is a gateway whose route to primary copies share of its
// requests to the route to mirror (at weight 0).
func mirrorGateway(primary, mirror, share, mirrorFields string) string {
	return fmt.Sprintf("name: m\nport: {{port}}\nroutes:\n  %s:\n    weight: 100%%\n    mirror: {route: %s, share: %q}\n  %s:\n    weight: 0%%\n%s",
		route(primary), route(mirror), share, route(mirror), mirrorFields)
}

// A route's mirror gets exactly its share of the route's requests, the
// same method, path and body; the answers are discarded and counted
// apart, in the mirror route's series.
func TestMirrorCopiesItsShare(t *testing.T) {
	t.Parallel()
	primary, mirror := newRecorder(t), newRecorder(t)
	g := startGateway(t, mirrorGateway(primary.addr, mirror.addr, "50%", ""), dataplane.Options{}, engine.Options{})
	for i := range 10 {
		raw := fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", i)
		if i == 3 {
			raw = "POST /r3 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
		}
		if resps := parseResponses(t, exchange(t, g.addr, raw)); len(resps) != 1 || resps[0].Status != 200 {
			t.Fatalf("request %d: %+v", i, resps)
		}
	}
	testnet.Eventually(t, ioTimeout, "5 copies at the mirror", func() bool { return len(mirror.requests()) == 5 })
	if n := len(primary.requests()); n != 10 {
		t.Errorf("the primary got %d requests, want 10", n)
	}
	got := map[string]string{}
	for _, r := range mirror.requests() {
		got[r.Method+" "+r.Target] = string(r.Body)
	}
	// Every other request, from the second: r1, r3 (the POST), r5, r7, r9.
	if got["POST /r3"] != "hello" {
		t.Errorf("the POST's copy carried %q", got["POST /r3"])
	}
	for _, want := range []string{"GET /r1", "POST /r3", "GET /r5", "GET /r7", "GET /r9"} {
		if _, ok := got[want]; !ok {
			t.Errorf("the mirror lacks %s: %v", want, got)
		}
	}
	m := "[" + mirror.addr + "]"
	testnet.Eventually(t, ioTimeout, "the copies' answers counted", func() bool {
		return metricValue(t, g.dp, "turnout_mirrored_requests_total", map[string]string{"gateway": "m", "route": m, "class": "2xx"}) == 5
	})
	if n := metricValue(t, g.dp, "turnout_requests_total", map[string]string{"gateway": "m", "route": m}); n != 0 {
		t.Errorf("the mirror route's own requests: %v, want 0 (copies are counted apart)", n)
	}
	for _, r := range primary.requests() {
		if r.Target == "/r3" && string(r.Body) != "hello" {
			t.Errorf("the primary got the POST with %q", r.Body)
		}
	}
}

// silent reads and never answers: a mirror that hangs.
func silent(t *testing.T) string {
	return serveEach(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
		}
	})
}

// A mirror that never answers delays no request of the route it copies:
// every one is answered while the copies wait for the mirror, which
// time out (1s, the mirror route's timeout) and are counted as no answer.
func TestHangingMirrorDelaysNothing(t *testing.T) {
	t.Parallel()
	primary := newRecorder(t)
	hang := silent(t)
	g := startGateway(t, mirrorGateway(primary.addr, hang, "100%", "    timeout: 1s\n"), dataplane.Options{}, engine.Options{})
	c := &http.Client{Timeout: ioTimeout}
	const n = 200
	for i := range n {
		resp, err := c.Get(fmt.Sprintf("http://%s/r%d", g.addr, i))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if got := len(primary.requests()); got != n {
		t.Errorf("the primary got %d requests, want %d", got, n)
	}
	h := "[" + hang + "]"
	testnet.Eventually(t, 30*time.Second, "the first copies timed out and counted", func() bool {
		return metricValue(t, g.dp, "turnout_mirrored_requests_total", map[string]string{"gateway": "m", "route": h, "class": "error"}) >= 4
	})
}
