package dataplane_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/internal/testnet"
)

// accessLines parses the JSON lines of an access log.
func accessLines(t *testing.T, buf *testnet.Buffer) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// With an access log, every request (answered by an endpoint or by the
// gateway itself) and every TCP connection gets one line, in the same
// format whichever HTTP path served it.
func TestAccessLog(t *testing.T) {
	var buf testnet.Buffer
	al := slog.New(slog.NewJSONHandler(&buf, nil))
	a := testnet.Backend(t, "a")
	tcpPort, emptyPort := testnet.FreePort(t), testnet.FreePort(t)
	doc := fmt.Sprintf("name: web\nport: {{port}}/http\nroutes:\n  \"[%s]\": {}\n---\nname: raw\nport: %d/tcp\nroutes:\n  \"[%s]\": {}\n---\nname: empty\nport: %d\n",
		a, tcpPort, a, emptyPort)
	g := startGateway(t, doc, dataplane.Options{AccessLog: al}, engine.Options{})
	httpPort := g.port

	for _, u := range []string{fmt.Sprintf("http://127.0.0.1:%d/x?y=1", httpPort), fmt.Sprintf("http://127.0.0.1:%d/", emptyPort)} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tcpPort))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	io.ReadAll(c)
	c.Close()

	testnet.Eventually(t, 5*time.Second, "3 access log lines", func() bool { return len(accessLines(t, &buf)) >= 3 })
	// The event loops logged the request they served; the goroutine path
	// the one for the empty gateway, which the loops handed it.
	if n := metricValue(t, g.dp, "turnout_http_handoffs_total", nil); !goroutineHTTP && n != 1 {
		t.Errorf("%v handoffs, want 1 (the empty gateway's request)", n)
	}
	want := map[string]map[string]any{
		"web":   {"msg": "request", "route": "[" + a + "]", "endpoint": a, "method": "GET", "uri": "/x?y=1", "status": float64(200)},
		"empty": {"msg": "request", "route": "", "endpoint": "", "status": float64(503)},
		"raw":   {"msg": "connection", "route": "[" + a + "]", "endpoint": a},
	}
	// The loops' lines are written by a goroutine of their own, so lines
	// of different requests may come in any order; each has its gateway.
	lines := accessLines(t, &buf)
	if len(lines) != len(want) {
		t.Fatalf("%d access log lines, want %d: %v", len(lines), len(want), lines)
	}
	for _, line := range lines {
		gw, _ := line["gateway"].(string)
		w, ok := want[gw]
		if !ok {
			t.Errorf("unexpected or repeated line %v", line)
			continue
		}
		delete(want, gw)
		for k, v := range w {
			if line[k] != v {
				t.Errorf("gateway %s: %s = %v, want %v (%v)", gw, k, line[k], v, line)
			}
		}
		if _, ok := line["duration_ms"].(float64); !ok {
			t.Errorf("gateway %s: line has no duration_ms", gw)
		}
	}
}

// blockingWriter blocks every Write until release is closed, like a log
// collector that stopped reading the pipe.
type blockingWriter struct {
	release chan struct{}
	testnet.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.Buffer.Write(p)
}

// An access log that cannot be written does not hold requests back on the
// event loops: the lines wait in a queue, and are written once the log
// takes them again.
func TestStalledAccessLogDoesNotStopTheLoops(t *testing.T) {
	if goroutineHTTP {
		t.Skip("the goroutine path writes each line before its response, as fasthttp's handlers do")
	}
	w := &blockingWriter{release: make(chan struct{})}
	al := slog.New(slog.NewJSONHandler(w, nil))
	a := testnet.Backend(t, "a")
	g := startGateway(t, fmt.Sprintf("name: web\nport: {{port}}/http\nroutes:\n  \"[%s]\": {}\n", a), dataplane.Options{AccessLog: al}, engine.Options{})
	const n = 20
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range n {
		resp, err := client.Get(fmt.Sprintf("http://%s/%d", g.addr, i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d with the access log stalled", i, resp.StatusCode)
		}
	}
	released := time.Now()
	close(w.release)
	testnet.Eventually(t, 5*time.Second, "all access log lines written", func() bool { return len(accessLines(t, &w.Buffer)) == n })
	lines := accessLines(t, &w.Buffer)
	if lines[n-1]["uri"] != fmt.Sprintf("/%d", n-1) {
		t.Errorf("last line %v, want uri /%d", lines[n-1], n-1)
	}
	// A line's time is when its request ended, not when it was written. The
	// loop stamps a request's end just after sending its response, so the
	// last one may be stamped after the client has it; each earlier one
	// ended before the loop read the next request on the connection.
	for _, line := range lines[:n-1] {
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(line["time"]))
		if err != nil || !at.Before(released) {
			t.Errorf("line time %v (%v), want before the log was released at %v", line["time"], err, released)
		}
	}
}

// The access log names each request as its endpoint does: a request
// without X-Request-Id gets one, forwarded to the endpoint and logged; one
// with it keeps it. Host, user agent and the body bytes each way are
// logged too.
func TestAccessLogRequestIDAndSizes(t *testing.T) {
	var buf testnet.Buffer
	al := slog.New(slog.NewJSONHandler(&buf, nil))
	be := newRecorder(t)
	be.respond = func(req *rawRequest, c net.Conn, _ *bufio.Reader) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world")
		return true
	}
	g := startGateway(t, simpleGateway("ids", be.addr, ""), dataplane.Options{AccessLog: al}, engine.Options{})
	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "POST /a HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: probe/1.0\r\nContent-Length: 5\r\n\r\nhello")
	readResponse(t, br, "POST")
	io.WriteString(c, "GET /b HTTP/1.1\r\nHost: shop.example\r\nX-Request-Id: given-42\r\n\r\n")
	readResponse(t, br, "GET")

	first, second := be.next(t), be.next(t)
	gen := first.Get("X-Request-Id")
	if len(gen) != 32 || second.Get("X-Request-Id") != "given-42" {
		t.Fatalf("the endpoint got X-Request-Id %q and %q, want a generated one and given-42", gen, second.Get("X-Request-Id"))
	}
	testnet.Eventually(t, 5*time.Second, "2 access log lines", func() bool { return len(accessLines(t, &buf)) >= 2 })
	byURI := map[string]map[string]any{}
	for _, l := range accessLines(t, &buf) {
		uri, _ := l["uri"].(string)
		byURI[uri] = l
	}
	want := map[string]map[string]any{
		"/a": {"request_id": gen, "host": "shop.example", "user_agent": "probe/1.0", "bytes_in": float64(5), "bytes_out": float64(11)},
		"/b": {"request_id": "given-42", "host": "shop.example", "bytes_in": float64(0), "bytes_out": float64(11)},
	}
	for uri, w := range want {
		for k, v := range w {
			if byURI[uri][k] != v {
				t.Errorf("%s: %s = %v, want %v (%v)", uri, k, byURI[uri][k], v, byURI[uri])
			}
		}
	}
}
