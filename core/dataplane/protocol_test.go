package dataplane_test

// HTTP/1.1 and TCP behaviour the data plane promises: keep-alive on both
// sides, streaming both ways without buffering whole bodies, WebSocket
// upgrades tunnelled byte for byte, TCP proxying with half-close.

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
)

// 100 sequential requests on one client connection reuse one client
// connection and (almost) one backend connection.
func TestKeepAliveBothSides(t *testing.T) {
	t.Parallel()
	var backendConns atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			backendConns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	g := startGateway(t, simpleGateway("ka", ts.Listener.Addr().String(), ""), dataplane.Options{}, engine.Options{})

	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	const n = 100
	for i := range n {
		fmt.Fprintf(c, "GET /r%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
		r := readResponse(t, br, "GET")
		if r.Status != 200 || string(r.Body) != fmt.Sprintf("/r%d", i) || r.Close {
			t.Fatalf("request %d: %d %q close=%v", i, r.Status, r.Body, r.Close)
		}
	}
	if got := backendConns.Load(); got > 2 {
		t.Errorf("%d requests on one client connection used %d backend connections, want at most 2", n, got)
	}
	if got := metricValue(t, g.dp, "turnout_connections_total", map[string]string{"gateway": "ka"}); got != 1 {
		t.Errorf("gateway accepted %v client connections, want 1", got)
	}
}

// A pipelined burst is answered in order on one connection.
func TestPipelinedRequests(t *testing.T) {
	t.Parallel()
	be := newRecorder(t)
	be.respond = func(r *rawRequest, c net.Conn, _ *bufio.Reader) bool {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(r.Target), r.Target)
		return true
	}
	g := startGateway(t, simpleGateway("pipe", be.addr, ""), dataplane.Options{}, engine.Options{})
	var raw strings.Builder
	for i := range 20 {
		fmt.Fprintf(&raw, "GET /p%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
	}
	resps := parseResponses(t, exchange(t, g.addr, raw.String()))
	if len(resps) != 20 {
		t.Fatalf("got %d responses, want 20", len(resps))
	}
	for i, r := range resps {
		if r.Status != 200 || string(r.Body) != fmt.Sprintf("/p%d", i) {
			t.Errorf("response %d: %d %q", i, r.Status, r.Body)
		}
	}
}

// pattern is a deterministic pseudo-random byte stream.
type pattern struct{ r *rand.ChaCha8 }

func newPattern(seed byte) *pattern {
	var s [32]byte
	s[0] = seed
	return &pattern{rand.NewChaCha8(s)}
}

func (p *pattern) Read(b []byte) (int, error) { return p.r.Read(b) }

// A 64 MiB upload streams through: the backend is reading it while the
// client is still sending (the gateway does not collect the body first),
// and every byte arrives intact. Not parallel: it measures the process's
// allocations, which other tests running alongside would inflate.
func TestStreamingUpload(t *testing.T) {
	const size = 64 << 10 << 10
	const gate = 2 << 20 // the client stops here until the backend has 1 MiB
	for _, chunked := range []bool{true, false} {
		t.Run(map[bool]string{true: "chunked", false: "content-length"}[chunked], func(t *testing.T) {
			started := make(chan struct{})
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := sha256.New()
				n, err := io.CopyN(h, r.Body, 1<<20)
				if err == nil {
					close(started)
					var m int64
					m, err = io.Copy(h, r.Body)
					n += m
				}
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				fmt.Fprintf(w, "%d %x %s", n, h.Sum(nil), r.Header.Get("Content-Length"))
			}))
			t.Cleanup(ts.Close)
			g := startGateway(t, simpleGateway("up", ts.Listener.Addr().String(), ""), dataplane.Options{}, engine.Options{})

			pr, pw := io.Pipe()
			sent := sha256.New()
			go func() {
				src := io.TeeReader(io.LimitReader(newPattern(1), size), sent)
				if _, err := io.CopyN(pw, src, gate); err != nil {
					pw.CloseWithError(err)
					return
				}
				select {
				case <-started:
				case <-time.After(ioTimeout):
					pw.CloseWithError(fmt.Errorf("the backend got no byte of the body while the client sent %d bytes: the gateway buffers request bodies", gate))
					return
				}
				_, err := io.Copy(pw, src)
				pw.CloseWithError(err)
			}()
			req, _ := http.NewRequest("POST", "http://"+g.addr+"/upload", pr)
			if !chunked {
				req.ContentLength = size
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			wantCL := ""
			if !chunked {
				wantCL = strconv.Itoa(size)
			}
			want := fmt.Sprintf("%d %x %s", size, sent.Sum(nil), wantCL)
			if resp.StatusCode != 200 || string(body) != want {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, want)
			}
			// Client, gateway and backend share this process, so this is
			// an upper bound on what the gateway allocated.
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d MiB while %d MiB went through", alloc>>20, size>>20)
			if alloc > size/2 {
				t.Errorf("allocated %d MiB to move a %d MiB body: the body is being buffered", alloc>>20, size>>20)
			}
		})
	}
}

// A response the backend writes line by line reaches the client line by
// line: in lockstep, the backend writes line i+1 only after the client
// has read line i, so any buffering in the gateway deadlocks and fails.
func TestStreamingResponseLineByLine(t *testing.T) {
	t.Parallel()
	const lines = 10
	ack := make(chan int)
	backendDone := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(backendDone)
		w.Header().Set("Content-Type", "text/plain")
		f := w.(http.Flusher)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := range lines {
			fmt.Fprintf(w, "line %d\n", i)
			f.Flush()
			select {
			case got := <-ack:
				if got != i {
					return
				}
			case <-time.After(ioTimeout):
				return // the client never saw the line: buffered
			}
			<-tick.C
		}
	}))
	t.Cleanup(ts.Close)
	g := startGateway(t, simpleGateway("sse", ts.Listener.Addr().String(), ""), dataplane.Options{}, engine.Options{})

	resp, err := (&http.Client{Timeout: 2 * ioTimeout}).Get("http://" + g.addr + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range lines {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("line %d\n", i) {
			t.Fatalf("line %d: %q %v", i, line, err)
		}
		select {
		case <-backendDone:
			t.Fatalf("the backend finished before the client read line %d", i)
		default:
		}
		ack <- i
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("trailing bytes %q", rest)
	}
}

// The route's timeout bounds waiting for the endpoint's answer, not the
// time a streamed answer takes: a response that starts at once and
// streams for longer than the timeout must arrive whole (the data plane
// promises long downloads work, and the engine's default timeout is 60s).
func TestRouteTimeoutDoesNotCutStreamedBody(t *testing.T) {
	t.Parallel()
	// 15 lines 100 ms apart: 1.5 s in all, past the 1 s timeout, and each
	// pause far below it, so that a loaded machine's scheduling delays
	// (the timeout slides only once a quarter of it has passed) do not
	// make a pause look like silence. 60 ms under a 200 ms timeout failed
	// beside two busy loops.
	const lines = 15
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := range lines {
			fmt.Fprintf(w, "line %d\n", i)
			f.Flush()
			<-tick.C
		}
	}))
	t.Cleanup(ts.Close)
	g := startGateway(t, simpleGateway("long", ts.Listener.Addr().String(), "{timeout: 1s}"), dataplane.Options{}, engine.Options{})
	start := time.Now()
	resp, err := (&http.Client{Timeout: ioTimeout}).Get("http://" + g.addr + "/download")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	var want strings.Builder
	for i := range lines {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if resp.StatusCode != 200 || err != nil || string(body) != want.String() {
		t.Errorf("after %v the client got %d, %d of %d bytes, err %v: a route timeout of 1s cut a response that started at once",
			time.Since(start).Round(time.Millisecond), resp.StatusCode, len(body), want.Len(), err)
	}
}

// Large responses arrive intact, with and without Content-Length.
func TestLargeResponse(t *testing.T) {
	t.Parallel()
	const size = 32 << 20
	want := sha256.New()
	io.Copy(want, io.LimitReader(newPattern(2), size))
	wantSum := hex.EncodeToString(want.Sum(nil))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cl" {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		io.Copy(w, io.LimitReader(newPattern(2), size))
	}))
	t.Cleanup(ts.Close)
	g := startGateway(t, simpleGateway("big", ts.Listener.Addr().String(), ""), dataplane.Options{}, engine.Options{})
	for _, path := range []string{"/cl", "/chunked"} {
		t.Run(path, func(t *testing.T) {
			resp, err := (&http.Client{Timeout: 60 * time.Second}).Get("http://" + g.addr + path)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != wantSum {
				t.Fatalf("got %d, %d bytes, err %v, sum match %v", resp.StatusCode, n, err, hex.EncodeToString(h.Sum(nil)) == wantSum)
			}
			if path == "/cl" && resp.ContentLength != size {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, size)
			}
		})
	}
}

// wsBackend is a raw TCP server that completes a WebSocket handshake (RFC
// 6455 4.2.2), sends "welcome", then echoes every byte. It reports the
// handshake request and when the client side of the tunnel went away.
type wsBackend struct {
	addr      string
	handshake chan *http.Request
	gone      chan struct{} // closed when a tunnel's read side ends
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

func newWSBackend(t *testing.T) *wsBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &wsBackend{addr: ln.Addr().String(), handshake: make(chan *http.Request, 4), gone: make(chan struct{})}
	var once sync.Once
	var wg sync.WaitGroup
	var conns sync.Map
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				b.handshake <- req
				if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
					io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\nwelcome\n",
					wsAccept(req.Header.Get("Sec-WebSocket-Key")))
				io.Copy(c, br) // echo until the client side ends
				once.Do(func() { close(b.gone) })
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return b
}

func TestWebSocket(t *testing.T) {
	t.Parallel()
	be := newWSBackend(t)
	g := startGateway(t, simpleGateway("ws", be.addr, ""), dataplane.Options{}, engine.Options{})
	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "+key+"\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("handshake answer %d %v", resp.StatusCode, resp.Header)
	}
	hs := <-be.handshake
	if hs.Host != "ws.example.com" || hs.Header.Get("Sec-WebSocket-Key") != key || hs.Header.Get("X-Forwarded-For") != "1.2.3.4, 127.0.0.1" {
		t.Errorf("backend handshake: Host %q, key %q, X-Forwarded-For %q", hs.Host, hs.Header.Get("Sec-WebSocket-Key"), hs.Header.Get("X-Forwarded-For"))
	}
	// Backend to client, unprompted.
	if line, err := br.ReadString('\n'); err != nil || line != "welcome\n" {
		t.Fatalf("server message: %q %v", line, err)
	}
	// Client to backend and back, binary included, several round trips.
	for i := range 20 {
		msg := fmt.Sprintf("\x81\x05hello %d \x00\xff\r\n", i)
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %d: %q %v", i, got, err)
		}
	}
	// 1 MiB in one go, read back while still writing.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	go c.Write(big)
	got := make([]byte, len(big))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("1 MiB echo: %v", err)
	}
	// Closing the client ends the backend's side of the tunnel.
	c.Close()
	select {
	case <-be.gone:
	case <-time.After(ioTimeout):
		t.Fatal("backend side of the tunnel still open after the client closed")
	}
}

// A WebSocket endpoint that refuses (no Upgrade: websocket → 400): the
// client gets the refusal, and the connection is not left as a tunnel.
func TestWebSocketRefused(t *testing.T) {
	t.Parallel()
	be := newWSBackend(t)
	g := startGateway(t, simpleGateway("ws", be.addr, ""), dataplane.Options{}, engine.Options{})
	resps := parseResponses(t, exchange(t, g.addr, "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"))
	if len(resps) != 1 || resps[0].Status != 400 {
		t.Fatalf("got %+v, want the endpoint's 400", resps)
	}
}

// A WebSocket upgrade to a dead endpoint gets 502, not a hang.
func TestWebSocketEndpointDown(t *testing.T) {
	t.Parallel()
	dead := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	g := startGateway(t, simpleGateway("ws", dead, ""), dataplane.Options{}, engine.Options{})
	resps := parseResponses(t, exchange(t, g.addr, "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
	if len(resps) != 1 || resps[0].Status != 502 {
		t.Fatalf("got %+v, want 502", resps)
	}
}

// A TCP gateway pipes bytes both ways and passes half-closes on.
func TestTCPGateway(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	received := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var all bytes.Buffer
		io.Copy(io.MultiWriter(c, &all), c) // echo until the client half-closes
		received <- all.Bytes()
		io.WriteString(c, "bye")
	}()
	doc := "name: tcp\nport: \"{{port}}/tcp\"\nroutes:\n  " + route(ln.Addr().String()) + ": {}\n"
	g := startGateway(t, doc, dataplane.Options{}, engine.Options{})
	c := dial(t, g.addr)
	msg := bytes.Repeat([]byte("tcp\x00\xff"), 100000)
	go func() {
		c.Write(msg)
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]byte{}, msg...), "bye"...); !bytes.Equal(got, want) {
		t.Fatalf("client got %d bytes, want %d", len(got), len(want))
	}
	select {
	case b := <-received:
		if !bytes.Equal(b, msg) {
			t.Errorf("backend got %d bytes, want %d", len(b), len(msg))
		}
	case <-time.After(ioTimeout):
		t.Fatal("backend never saw the half-close")
	}
}
