package dataplane_test

// Test helpers shared by security_test.go and protocol_test.go: a gateway
// started the way the engine starts one, raw-socket clients that send
// exact bytes, and backends that record exactly what reached them.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/internal/testnet"
)

// quiet drops the data plane's and engine's logs; set TURNOUT_TEST_LOG=1
// to see them (debug level included).
var quiet = func() *slog.Logger {
	if os.Getenv("TURNOUT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}()

// ioTimeout bounds every blocking socket operation of the tests, so a
// hanging gateway fails a test instead of stalling the run.
const ioTimeout = 5 * time.Second

// goroutineHTTP runs every gateway of the tests with HTTP served by
// goroutines only (TestGoroutinePath sets it for a second run).
var goroutineHTTP = os.Getenv("TURNOUT_TEST_GOROUTINE_HTTP") != ""

// closedPort returns a port with nothing listening on it.
func closedPort(t testing.TB) int { return testnet.FreePort(t) }

// testGateway is a data plane serving one gateway through the engine.
type testGateway struct {
	dp   *dataplane.DataPlane
	eng  *engine.Engine
	port int
	addr string // 127.0.0.1:port
}

// startGateway decodes the gateway document (every "{{port}}" in it is
// replaced by a free port), puts it in service through the engine and
// shuts the data plane down when the test ends.
func startGateway(t testing.TB, doc string, o dataplane.Options, eo engine.Options) *testGateway {
	t.Helper()
	o.Address = "127.0.0.1"
	if goroutineHTTP {
		o.GoroutineHTTP = true
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	if eo.Logger == nil {
		eo.Logger = quiet
	}
	var lastErr error
	for range 3 { // the free port may be taken between freePort and Set
		port := testnet.FreePort(t)
		gws, err := gateway.Decode([]byte(strings.ReplaceAll(doc, "{{port}}", strconv.Itoa(port))), t.Name())
		if err != nil {
			t.Fatalf("decode gateway: %v\n%s", err, doc)
		}
		dp := dataplane.New(o)
		eng := engine.New(dp, eo)
		if err := eng.Set(gws); err != nil {
			lastErr = err
			shutdown(dp)
			continue
		}
		t.Cleanup(func() { shutdown(dp) })
		addr := dp.Addr(port)
		if addr == nil {
			t.Fatalf("no address for port %d", port)
		}
		return &testGateway{dp: dp, eng: eng, port: port, addr: addr.String()}
	}
	t.Fatalf("cannot start gateway: %v", lastErr)
	return nil
}

func shutdown(dp *dataplane.DataPlane) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = dp.Shutdown(ctx)
}

// route is the YAML route key of a backend address.
func route(addr string) string { return fmt.Sprintf("%q", "["+addr+"]") }

// simpleGateway is one HTTP gateway with one route to backend.
func simpleGateway(name, backend string, fields string) string {
	if fields == "" {
		fields = "{}"
	}
	return fmt.Sprintf("name: %s\nport: {{port}}\nroutes:\n  %s: %s\n", name, route(backend), fields)
}

// dial connects to addr with the test's I/O deadline set.
func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	return c.(*net.TCPConn)
}

// exchange sends raw bytes on a new connection, half-closes it (so the
// gateway sees the end of the client's data, answers what it has and
// closes) and returns every byte the gateway sent until it closed.
func exchange(t testing.TB, addr, raw string) []byte {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("read (got %q so far): %v", got, err)
	}
	return got
}

func isReset(err error) bool {
	return err != nil && (errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset"))
}

// parsedResponse is one response read off a raw connection.
type parsedResponse struct {
	Status int
	Header http.Header
	Body   []byte
	Close  bool
}

// parseResponses splits the bytes a connection received into responses.
// A trailing fragment that is not a whole response is an error.
func parseResponses(t testing.TB, raw []byte) []parsedResponse {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(raw))
	var out []parsedResponse
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return out
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v in %q", len(out)+1, err, raw)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v in %q", len(out)+1, err, raw)
		}
		out = append(out, parsedResponse{Status: resp.StatusCode, Header: resp.Header, Body: body, Close: resp.Close})
	}
}

// readResponse reads one response from br (body included).
func readResponse(t testing.TB, br *bufio.Reader, method string) parsedResponse {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return parsedResponse{Status: resp.StatusCode, Header: resp.Header, Body: body, Close: resp.Close}
}

// waitClosed reports whether the peer closed c (EOF or reset) before
// within passed; bytes the peer sent meanwhile are returned.
func waitClosed(c net.Conn, within time.Duration) (closed bool, got []byte) {
	_ = c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false, got
			}
			return true, got
		}
	}
}

// ---- recording backend ----

// rawRequest is one complete request as a backend received it on the wire.
type rawRequest struct {
	Method, Target, Proto string
	// Lines are the header lines exactly as received (without CRLF).
	Lines []string
	Body  []byte
}

// Get returns the first value of a header (case-insensitive name).
func (r *rawRequest) Get(name string) string {
	v := r.Values(name)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// Values returns every value of a header, in order.
func (r *rawRequest) Values(name string) []string {
	var out []string
	for _, l := range r.Lines {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(k, name) {
			out = append(out, strings.Trim(v, " \t"))
		}
	}
	return out
}

// Has reports whether a header is present.
func (r *rawRequest) Has(name string) bool { return r.Values(name) != nil }

// recorder is an HTTP/1.1 backend on a raw socket that parses requests
// strictly and records them, and every byte it received, so tests can
// assert what exactly crossed the gateway. It answers 200 "ok" unless
// respond is set.
type recorder struct {
	addr  string
	ln    net.Listener
	conns atomic.Int32

	// respond, if set, writes the answer to req; returning false closes
	// the connection. Set before traffic starts.
	respond func(req *rawRequest, c net.Conn, br *bufio.Reader) bool

	mu        sync.Mutex
	reqs      []*rawRequest
	raw       bytes.Buffer
	malformed []string // what the strict parser refused
	seen      chan *rawRequest
}

func newRecorder(t testing.TB) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{addr: ln.Addr().String(), ln: ln, seen: make(chan *rawRequest, 1024)}
	var wg sync.WaitGroup
	var open sync.Map
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			open.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer open.Delete(c)
				r.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return r
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (r *recorder) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(io.TeeReader(c, lockedWriter{&r.mu, &r.raw}))
	for {
		req, err := readRawRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.mu.Lock()
				r.malformed = append(r.malformed, err.Error())
				r.mu.Unlock()
			}
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.mu.Unlock()
		select {
		case r.seen <- req:
		default:
		}
		if r.respond != nil {
			if !r.respond(req, c, br) {
				return
			}
			continue
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
		if strings.EqualFold(req.Get("Connection"), "close") {
			return
		}
	}
}

// requests returns the complete requests received so far.
func (r *recorder) requests() []*rawRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*rawRequest(nil), r.reqs...)
}

// rawBytes returns every byte received so far, on every connection.
func (r *recorder) rawBytes() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raw.String()
}

func (r *recorder) malformedRequests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.malformed...)
}

// next waits for the next recorded request.
func (r *recorder) next(t testing.TB) *rawRequest {
	t.Helper()
	select {
	case req := <-r.seen:
		return req
	case <-time.After(ioTimeout):
		t.Fatal("backend saw no request")
		return nil
	}
}

// readLineCRLF reads one line that must end in CRLF, without it.
func readLineCRLF(br *bufio.Reader) (string, error) {
	l, err := br.ReadString('\n')
	if err != nil {
		if l == "" && errors.Is(err, io.EOF) {
			return "", io.EOF
		}
		return "", fmt.Errorf("incomplete line %q: %w", l, err)
	}
	if !strings.HasSuffix(l, "\r\n") {
		return "", fmt.Errorf("line not ended by CRLF: %q", l)
	}
	return l[:len(l)-2], nil
}

// readRawRequest parses one request the way a strict origin server
// would: CRLF line ends, token header names, no obs-fold, no control
// bytes in values, exactly one framing header.
func readRawRequest(br *bufio.Reader) (*rawRequest, error) {
	line, err := readLineCRLF(br)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(line, " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return nil, fmt.Errorf("bad request line %q", line)
	}
	req := &rawRequest{Method: parts[0], Target: parts[1], Proto: parts[2]}
	for {
		l, err := readLineCRLF(br)
		if err != nil {
			return nil, fmt.Errorf("headers of %q: %w", line, err)
		}
		if l == "" {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || !isToken(k) {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
				return nil, fmt.Errorf("control byte %#x in header line %q", c, l)
			}
		}
		req.Lines = append(req.Lines, l)
	}
	cl, te := req.Values("Content-Length"), req.Values("Transfer-Encoding")
	switch {
	case len(cl) > 0 && len(te) > 0:
		return nil, fmt.Errorf("both Content-Length %q and Transfer-Encoding %q", cl, te)
	case len(te) > 0:
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return nil, fmt.Errorf("transfer-encoding %q", te)
		}
		body, err := io.ReadAll(httputil.NewChunkedReader(br))
		if err != nil {
			return nil, fmt.Errorf("chunked body of %q: %w", line, err)
		}
		for { // trailer section
			l, err := readLineCRLF(br)
			if err != nil {
				return nil, fmt.Errorf("trailers of %q: %w", line, err)
			}
			if l == "" {
				break
			}
		}
		req.Body = body
	case len(cl) > 0:
		if len(cl) != 1 {
			return nil, fmt.Errorf("content-length %q", cl)
		}
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("content-length %q", cl)
		}
		req.Body = make([]byte, n)
		if _, err := io.ReadFull(br, req.Body); err != nil {
			return nil, fmt.Errorf("body of %q: %w", line, err)
		}
	}
	return req, nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ---- metrics ----

// errorCount reads turnout_errors_total for a gateway, route and kind.
func errorCount(t testing.TB, dp *dataplane.DataPlane, gw, route, kind string) float64 {
	t.Helper()
	return metricValue(t, dp, "turnout_errors_total", map[string]string{"gateway": gw, "route": route, "kind": kind})
}

// metricValue sums the counters or gauges of a metric whose labels
// include labels (0 if none).
func metricValue(t testing.TB, dp *dataplane.DataPlane, name string, labels map[string]string) float64 {
	t.Helper()
	var sum float64
	eachSeries(t, dp, name, labels, func(m *dto.Metric) {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	})
	return sum
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// seriesCount is how many series of a metric have labels among theirs.
func seriesCount(t testing.TB, dp *dataplane.DataPlane, name string, labels map[string]string) int {
	t.Helper()
	n := 0
	eachSeries(t, dp, name, labels, func(*dto.Metric) { n++ })
	return n
}

// histogramCount sums the observations of a histogram's series that have
// labels among theirs.
func histogramCount(t testing.TB, dp *dataplane.DataPlane, name string, labels map[string]string) uint64 {
	t.Helper()
	var n uint64
	eachSeries(t, dp, name, labels, func(m *dto.Metric) { n += m.GetHistogram().GetSampleCount() })
	return n
}

func eachSeries(t testing.TB, dp *dataplane.DataPlane, name string, labels map[string]string, f func(*dto.Metric)) {
	t.Helper()
	mfs, err := dp.Metrics().Prometheus.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				if labelValue(m, k) != v {
					continue next
				}
			}
			f(m)
		}
	}
}
