package dataplane

import (
	"net"
	"syscall"
	"time"
)

// endpointConn is a connection of fasthttp's pools to an endpoint. It
// knows when it is used again after an answer, checks then that the
// endpoint has not closed it meanwhile, and remembers a failure of such a
// reuse before any answer byte (stale), which staleTransport reports.
//
// It also turns the deadline fasthttp sets for a request into an
// inactivity timeout: it slides forward while response bytes keep coming,
// so a route's timeout bounds waiting for the endpoint, not the length of
// a streamed download or event stream.
//
// One goroutine uses it at a time: fasthttp's pool hands it over.
type endpointConn struct {
	net.Conn
	raw  syscall.RawConn // nil if the connection has no descriptor
	addr endpointAddr

	idle    time.Duration
	lastSet time.Time

	used     bool // an answer has been read: the next request reuses it
	sending  bool // a request is being written
	answered bool // the request in flight has had response bytes
	stale    bool // reused, and found closed before any answer byte
	head     headCheck
}

// endpointAddr is the connection's remote address, and the way back to
// the connection from a response (fasthttp keeps the address).
type endpointAddr struct {
	net.Addr
	c *endpointConn
}

func newEndpointConn(c net.Conn) *endpointConn {
	ec := &endpointConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		ec.raw, _ = sc.SyscallConn()
	}
	ec.addr = endpointAddr{Addr: c.RemoteAddr(), c: ec}
	return ec
}

func (c *endpointConn) RemoteAddr() net.Addr { return &c.addr }

// Write starts a request with its first call after an answer. On a reused
// connection the endpoint may have closed it while it was idle: then
// nothing is written, so the request can go elsewhere whatever it is.
func (c *endpointConn) Write(b []byte) (int, error) {
	if !c.sending {
		c.sending, c.answered = true, false
		c.head = headCheck{}
		if c.used && c.raw != nil && peerClosed(c.raw) {
			c.stale = true
			return 0, errStaleConn
		}
	}
	return c.Conn.Write(b)
}

func (c *endpointConn) Read(b []byte) (int, error) {
	if c.idle > 0 {
		// Moving the deadline costs a timer update; do it only once a
		// quarter of the timeout has passed.
		if now := time.Now(); now.Sub(c.lastSet) > c.idle/4 {
			c.lastSet = now
			c.Conn.SetReadDeadline(now.Add(c.idle))
		}
	}
	n, err := c.Conn.Read(b)
	switch {
	case n > 0:
		c.sending, c.answered, c.used = false, true, true
		if !c.head.done {
			if herr := c.head.scan(b[:n]); herr != nil {
				return 0, herr
			}
		}
	case err != nil && c.used && !c.answered && !isTimeout(err):
		c.stale = true // closed or reset before a byte of the answer
	}
	return n, err
}

func (c *endpointConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.idle = 0
	} else {
		c.lastSet = time.Now()
		c.idle = t.Sub(c.lastSet)
	}
	return c.Conn.SetReadDeadline(t)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
