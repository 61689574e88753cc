// Package pump moves bytes both ways between pairs of TCP connections: the
// body of a TCP gateway, and of an HTTP connection upgraded to a tunnel.
//
// On Linux the pairs are served by a few epoll event loops (one per CPU Go
// may use) instead of two goroutines per connection. A message then costs
// one read and one write, without the extra read that returns EAGAIN and
// the goroutine wake-up of Go's netpoller, which is where a
// goroutine-per-connection proxy spends the CPU that separates it from
// HAProxy (docs/performance-analysis.md). Elsewhere Pipe falls back to Copy.
package pump

import (
	"errors"
	"io"
	"net"
	"sync"

	"github.com/turnout/turnout/core/dataplane/eventloop"
)

// ErrClosed is returned by Pipe when the Pump is closed under it.
var ErrClosed = eventloop.ErrClosed

// ErrAborted is returned by Pipe when its abort channel was closed.
var ErrAborted = errors.New("pump: aborted")

// Counter counts bytes; a prometheus.Counter is one.
type Counter interface{ Add(float64) }

// Counts are where Pipe counts the bytes it reads from each side (what
// the other side is sent). A nil Counter counts nothing.
type Counts struct{ FromA, FromB Counter }

func count(c Counter, n int) {
	if c != nil && n > 0 {
		c.Add(float64(n))
	}
}

// Copy moves bytes both ways between a and b with a goroutine per
// direction, passing a half-close on as a half-close, until both
// directions are done or either fails; then it closes both. It is the
// fallback of Pipe, and what tunnels whose connections are not plain TCP
// sockets use.
func Copy(a, b net.Conn) { copyCounted(a, b, Counts{}) }

func copyCounted(a, b net.Conn, counts Counts) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyHalf(b, a, counts.FromA)
	}()
	copyHalf(a, b, counts.FromB)
	wg.Wait()
	a.Close()
	b.Close()
}

type closeWriter interface{ CloseWrite() error }

func copyHalf(dst, src net.Conn, counter Counter) {
	buf := eventloop.GetBuffer()
	_, err := io.CopyBuffer(writerOnly{dst}, countingReader{src, counter}, *buf)
	eventloop.PutBuffer(buf)
	if cw, ok := dst.(closeWriter); ok && err == nil {
		cw.CloseWrite()
	} else {
		// An error on one side ends the whole tunnel.
		dst.Close()
		src.Close()
	}
}

// writerOnly hides ReadFrom so io.CopyBuffer uses the plain read/write
// loop: for the small messages of typical request/response traffic, one
// read and one write beat splice's pipe round trips (perf-anchors.md).
type writerOnly struct{ io.Writer }

// countingReader counts what it reads; being a plain reader, it also
// hides WriteTo for the same reason.
type countingReader struct {
	r io.Reader
	c Counter
}

func (r countingReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	count(r.c, n)
	return n, err
}

// copyAbortable is Copy that also ends when abort is closed.
func copyAbortable(a, b *net.TCPConn, abort <-chan struct{}, counts Counts) error {
	done := make(chan struct{})
	go func() {
		select {
		case <-abort:
			a.Close()
			b.Close()
		case <-done:
		}
	}()
	copyCounted(a, b, counts)
	close(done)
	select {
	case <-abort:
		return ErrAborted
	default:
		return nil
	}
}
