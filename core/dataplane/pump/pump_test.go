package pump_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane/pump"
)

// conns is one proxied connection: the client's end, the server's end, and
// what Pipe returned, once it has.
type conns struct {
	client, server *net.TCPConn
	abort          chan struct{}
	done           chan error
}

// pipe connects a client and a server on 127.0.0.1 through p.
func pipe(t *testing.T, p *pump.Pump) *conns {
	t.Helper()
	front := listen(t)
	back := listen(t)
	client := dial(t, front.Addr())
	proxySide := accept(t, front)
	upstream := dial(t, back.Addr())
	server := accept(t, back)
	c := &conns{client: client, server: server, abort: make(chan struct{}), done: make(chan error, 1)}
	go func() { c.done <- p.Pipe(proxySide, upstream, c.abort, pump.Counts{}) }()
	t.Cleanup(func() { client.Close(); server.Close() })
	return c
}

func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dial(t *testing.T, a net.Addr) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, a.(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func accept(t *testing.T, ln *net.TCPListener) *net.TCPConn {
	t.Helper()
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newPump(t *testing.T) *pump.Pump {
	p := pump.New(2)
	t.Cleanup(func() { p.Close() })
	return p
}

// wait returns what Pipe returned, failing the test if it does not return.
func (c *conns) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Pipe did not return")
		return nil
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Both directions at once, more than a buffer each, arrive intact; the
// half-closes end the pair cleanly.
func TestPipeMovesBytesBothWays(t *testing.T) {
	c := pipe(t, newPump(t))
	up, down := random(t, 3<<20+17), random(t, 5<<20+3)
	var wg sync.WaitGroup
	var gotUp, gotDown []byte
	var errUp, errDown error
	wg.Add(4)
	go func() { defer wg.Done(); c.client.Write(up); c.client.CloseWrite() }()
	go func() { defer wg.Done(); c.server.Write(down); c.server.CloseWrite() }()
	go func() { defer wg.Done(); gotUp, errUp = io.ReadAll(c.server) }()
	go func() { defer wg.Done(); gotDown, errDown = io.ReadAll(c.client) }()
	wg.Wait()
	if errUp != nil || errDown != nil {
		t.Fatalf("reading: %v, %v", errUp, errDown)
	}
	if !bytes.Equal(gotUp, up) || !bytes.Equal(gotDown, down) {
		t.Fatalf("bytes changed on the way: up %d of %d, down %d of %d", len(gotUp), len(up), len(gotDown), len(down))
	}
	if err := c.wait(t); err != nil {
		t.Fatalf("Pipe = %v, want nil after both half-closes", err)
	}
}

// A client that half-closes still gets the server's answer, and the
// server sees the half-close as the end of the request.
func TestPipePassesHalfClose(t *testing.T) {
	c := pipe(t, newPump(t))
	c.client.Write([]byte("ping"))
	c.client.CloseWrite()
	req, err := io.ReadAll(c.server)
	if err != nil || string(req) != "ping" {
		t.Fatalf("server read %q, %v; want ping then EOF", req, err)
	}
	c.server.Write([]byte("pong"))
	c.server.Close()
	resp, err := io.ReadAll(c.client)
	if err != nil || string(resp) != "pong" {
		t.Fatalf("client read %q, %v; want pong then EOF", resp, err)
	}
	if err := c.wait(t); err != nil {
		t.Fatalf("Pipe = %v, want nil", err)
	}
}

// A client that reads nothing holds the server's writes back: the pump
// keeps at most a buffer per direction, so what the server managed to
// write is bounded by the sockets' kernel buffers, not by the pump's
// memory. Everything written then arrives once the client reads.
func TestPipeSlowReaderHoldsTheWriterBack(t *testing.T) {
	c := pipe(t, newPump(t))
	const bound = 64 << 20 // far above four loopback socket buffers
	chunk := random(t, 1<<20)
	written := 0
	c.server.SetWriteDeadline(time.Now().Add(2 * time.Second))
	for written < 4*bound {
		n, err := c.server.Write(chunk)
		written += n
		if err != nil {
			break
		}
	}
	if written >= bound {
		t.Fatalf("the server wrote %d MiB to a client that reads nothing: no backpressure", written>>20)
	}
	t.Logf("held back after %.1f MiB", float64(written)/(1<<20))
	c.server.Close()
	got, err := io.Copy(io.Discard, c.client)
	if err != nil || got != int64(written) {
		t.Fatalf("client read %d bytes (%v), want the %d written", got, err, written)
	}
}

func TestAbortEndsThePair(t *testing.T) {
	c := pipe(t, newPump(t))
	c.client.Write([]byte("x"))
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c.server, buf); err != nil {
		t.Fatal(err)
	}
	close(c.abort)
	if err := c.wait(t); !errors.Is(err, pump.ErrAborted) {
		t.Fatalf("Pipe = %v, want ErrAborted", err)
	}
	expectEnd(t, c.client)
	expectEnd(t, c.server)
}

func TestCloseEndsEveryPair(t *testing.T) {
	p := pump.New(2)
	a, b := pipe(t, p), pipe(t, p)
	for _, c := range []*conns{a, b} {
		c.client.Write([]byte("x"))
		buf := make([]byte, 1)
		if _, err := io.ReadFull(c.server, buf); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	for _, c := range []*conns{a, b} {
		if err := c.wait(t); !errors.Is(err, pump.ErrClosed) {
			t.Fatalf("Pipe = %v, want ErrClosed", err)
		}
		expectEnd(t, c.client)
	}
	// A closed Pump takes nothing more over.
	c := pipe(t, p)
	if err := c.wait(t); !errors.Is(err, pump.ErrClosed) {
		t.Fatalf("Pipe on a closed Pump = %v, want ErrClosed", err)
	}
	expectEnd(t, c.client)
}

// A reset on one side ends the pair and reaches the other side.
func TestResetEndsThePair(t *testing.T) {
	c := pipe(t, newPump(t))
	c.client.Write([]byte("x"))
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c.server, buf); err != nil {
		t.Fatal(err)
	}
	c.server.SetLinger(0)
	c.server.Close()
	if err := c.wait(t); err == nil {
		t.Log("Pipe = nil") // the reset may arrive as a plain end of stream
	}
	expectEnd(t, c.client)
}

// expectEnd reads from c until the end of stream or an error, which must
// come without c's own deadline passing.
func expectEnd(t *testing.T, c *net.TCPConn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open")
	}
}

// Many pairs at once, each an echo exchange, under -race.
func TestManyPairs(t *testing.T) {
	p := newPump(t)
	var wg sync.WaitGroup
	for range 64 {
		c := pipe(t, p)
		wg.Add(2)
		go func() {
			defer wg.Done()
			io.Copy(c.server, c.server) // echo until the client half-closes
			c.server.CloseWrite()
		}()
		go func() {
			defer wg.Done()
			msg := random(t, 100<<10)
			go func() { c.client.Write(msg); c.client.CloseWrite() }()
			got, err := io.ReadAll(c.client)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("echo: %d of %d bytes, %v", len(got), len(msg), err)
			}
		}()
		defer func() {
			if err := c.wait(t); err != nil {
				t.Errorf("Pipe = %v", err)
			}
		}()
	}
	wg.Wait()
}

// The loops move the bytes: a pair costs only the goroutine that waits in
// Pipe, not two more copying (Copy's way).
func TestNoGoroutinesPerPair(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("event loops are Linux-only; elsewhere Pipe is Copy")
	}
	p := newPump(t)
	warm := pipe(t, p) // starts the loops
	warm.client.Write([]byte("x"))
	io.ReadFull(warm.server, make([]byte, 1))
	before := runtime.NumGoroutine()
	const n = 50
	for range n {
		c := pipe(t, p)
		c.client.Write([]byte("x"))
		if _, err := io.ReadFull(c.server, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := runtime.NumGoroutine() - before; got > n+5 {
		t.Fatalf("%d pairs added %d goroutines, want at most %d (one waiting per Pipe)", n, got, n+5)
	}
}
