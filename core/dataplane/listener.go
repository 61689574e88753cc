package dataplane

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// portListener owns one listening socket for the life of the port. Its
// accept loop hands each connection to whatever server the port has now
// (HTTP or TCP), so a gateway's protocol, routes and weights can all
// change while the socket stays open and its backlog is never dropped.
type portListener struct {
	port int
	ln   net.Listener
	log  *slog.Logger

	server atomic.Pointer[server]
	done   chan struct{}
}

// server is what serves the connections of a port: an HTTP or TCP proxy.
type server interface {
	serve(c net.Conn)
	protocol() string
	// shutdown stops taking connections and waits, until the deadline, for
	// the ones it has to finish; then it closes what is left.
	shutdown(deadline time.Time)
}

func listen(addr string, port int, log *slog.Logger) (*portListener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	return &portListener{port: port, ln: ln, log: log, done: make(chan struct{})}, nil
}

func (p *portListener) run() {
	defer close(p.done)
	var delay time.Duration
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep the socket.
			var ne net.Error
			if errors.As(err, &ne) {
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				p.log.Warn("accept failed", "port", p.port, "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			p.log.Error("accept loop stopped", "port", p.port, "err", err)
			return
		}
		delay = 0
		s := p.server.Load()
		if s == nil {
			c.Close()
			continue
		}
		(*s).serve(c)
	}
}

// close stops accepting and waits for the accept loop to end.
func (p *portListener) close() {
	p.ln.Close()
	<-p.done
}

// clientBytes counts the bytes a gateway's clients send and are sent
// (nil counters count nothing).
type clientBytes struct{ received, sent prometheus.Counter }

func (b clientBytes) read(n int64) {
	if b.received != nil && n > 0 {
		b.received.Add(float64(n))
	}
}

func (b clientBytes) wrote(n int64) {
	if b.sent != nil && n > 0 {
		b.sent.Add(float64(n))
	}
}

// countedConn is a client connection whose bytes are counted. It embeds
// the *net.TCPConn so deadlines keep their fast paths, and passes ReadFrom
// and WriteTo on so splice does too.
type countedConn struct {
	*net.TCPConn
	bytes clientBytes
}

func (c countedConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	c.bytes.read(int64(n))
	return n, err
}

func (c countedConn) Write(b []byte) (int, error) {
	n, err := c.TCPConn.Write(b)
	c.bytes.wrote(int64(n))
	return n, err
}

func (c countedConn) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.TCPConn.ReadFrom(r)
	c.bytes.wrote(n)
	return n, err
}

func (c countedConn) WriteTo(w io.Writer) (int64, error) {
	n, err := c.TCPConn.WriteTo(w)
	c.bytes.read(n)
	return n, err
}

// trackedConn calls onClose once when the connection is closed, so the
// open-connections gauge follows connections exactly.
type trackedConn struct {
	countedConn
	once    sync.Once
	onClose func()
	// closed is closed by Close: a pump that has taken the socket over
	// (and closed the TCPConn itself) lets go of it then.
	closed chan struct{}
}

func (c *trackedConn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(func() {
		close(c.closed)
		c.onClose()
	})
	return err
}
