package dataplane

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// transport is an endpoint's connection pools: fasthttp's for connections
// served by goroutines, and one per event loop for the loops' own.
type transport struct {
	hc     *fasthttp.HostClient
	idle   [][]*upConn // by loop; only that loop touches its list
	closed atomic.Bool // the endpoint is gone: pooled connections close
}

// newTransport is the connection pools of one endpoint.
func (d *DataPlane) newTransport(addr string) any {
	dialer := &net.Dialer{Timeout: d.opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	hc := &fasthttp.HostClient{
		Addr: addr,
		Dial: func(a string) (net.Conn, error) {
			c, err := dialer.Dial("tcp", a)
			if err != nil {
				return nil, err
			}
			return &idleTimeoutConn{Conn: c}, nil
		},
		MaxConns:            4096,
		MaxIdleConnDuration: d.opts.UpstreamIdle,
		ReadBufferSize:      d.opts.MaxHeaderBytes,
		StreamResponseBody:  true,
		// Our own retry loop decides about other endpoints; the pool only
		// re-sends an idempotent request once, when its connection closed
		// before the first response byte: what a pooled keep-alive
		// connection that the endpoint closed while idle does. fasthttp
		// reports a fresh connection closed by a crashing endpoint the
		// same way (any error on the first byte is EOF), so a GET that
		// crashes its endpoint is sent to it twice.
		MaxIdemponentCallAttempts: 2,
		RetryIfErr:                retryStaleConn,
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true,
		SecureErrorLogMessage:     true,
	}
	return &transport{hc: hc, idle: make([][]*upConn, d.nloops)}
}

func retryStaleConn(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	idempotent := req.Header.IsGet() || req.Header.IsHead() || req.Header.IsOptions()
	stale := errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed)
	return false, attempts < 2 && idempotent && stale && !req.IsBodyStream()
}

func closeTransport(t any) {
	if tr, ok := t.(*transport); ok {
		tr.closed.Store(true) // the loops close theirs when they next look
		tr.hc.CloseIdleConnections()
	}
}

// idleTimeoutConn turns the deadline fasthttp sets for a request into an
// inactivity timeout: it slides forward while response bytes keep coming,
// so a route's timeout bounds waiting for the endpoint, not the length of
// a streamed download or event stream.
type idleTimeoutConn struct {
	net.Conn
	idle    time.Duration
	lastSet time.Time
}

func (c *idleTimeoutConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.idle = 0
	} else {
		c.lastSet = time.Now()
		c.idle = t.Sub(c.lastSet)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *idleTimeoutConn) Read(b []byte) (int, error) {
	if c.idle > 0 {
		// Moving the deadline costs a timer update; do it only once a
		// quarter of the timeout has passed.
		if now := time.Now(); now.Sub(c.lastSet) > c.idle/4 {
			c.lastSet = now
			c.Conn.SetReadDeadline(now.Add(c.idle))
		}
	}
	return c.Conn.Read(b)
}
