package dataplane

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// transport is an endpoint's connections: fasthttp's pool for requests
// served by goroutines, one pool per event loop for the loops' own, and
// clients that open a new connection per request for streamed bodies.
type transport struct {
	hc      *fasthttp.HostClient // pooled, for requests without a streamed body
	fresh   *fasthttp.HostClient // one connection per request (sent with Connection: close)
	chunked *fasthttp.HostClient // fresh, for streamed bodies of unknown length: see chunkWriteBuffer
	idle    [][]*upConn          // by loop; only that loop touches its list
	closed  atomic.Bool          // the endpoint is gone: pooled connections close
}

// chunkWriteBuffer is the write buffer of a connection that carries a
// chunked body: one chunk of up to chunkBufferSize with its framing, so
// that each chunk is sent with one system call (fasthttp flushes after
// every chunk; with its 4 KiB buffer a chunk took three, one of them the
// chunk's final CRLF alone). A body of known length keeps the small
// buffer: its reads of more than 4 KiB are written on directly, and a
// bigger buffer would only hold more of a slow body back from the
// endpoint until it fills.
const chunkWriteBuffer = chunkBufferSize + 64

// newTransport is the connection pools of one endpoint.
func (d *DataPlane) newTransport(addr string) any {
	dialer := &net.Dialer{Timeout: d.opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	client := func() *fasthttp.HostClient {
		return &fasthttp.HostClient{
			Addr: addr,
			Dial: func(a string) (net.Conn, error) {
				c, err := dialer.Dial("tcp", a)
				if err != nil {
					return nil, err
				}
				return newEndpointConn(c), nil
			},
			Transport:           staleTransport{},
			MaxConns:            4096,
			MaxIdleConnDuration: d.opts.UpstreamIdle,
			ReadBufferSize:      d.opts.MaxHeaderBytes,
			StreamResponseBody:  true,
			// transport.do re-sends what a closed pooled connection failed,
			// and our retry loop decides about other endpoints.
			MaxIdemponentCallAttempts: 1,
			NoDefaultUserAgentHeader:  true,
			DisablePathNormalizing:    true,
			SecureErrorLogMessage:     true,
		}
	}
	chunked := client()
	chunked.WriteBufferSize = chunkWriteBuffer
	return &transport{hc: client(), fresh: client(), chunked: chunked, idle: make([][]*upConn, d.nloops)}
}

// errStaleConn: a pooled connection turned out closed by its endpoint,
// before the request went out or before any byte of its answer came.
var errStaleConn = errors.New("the endpoint had closed the pooled connection")

// do sends req to the endpoint and reads the head of its response.
//
// A pooled connection may have been closed by the endpoint while it was
// idle (Node and Apache close idle ones after a few seconds), and that
// shows only when it is used. A request whose body streams from the
// client cannot be sent twice, so it goes on a new connection. Any other
// request is sent again, once, on a new connection when its pooled one
// was found closed or broke before any byte of an answer: nothing reached
// the endpoint, or it closed without reading what did.
func (t *transport) do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	if req.IsBodyStream() {
		return t.doFresh(req, resp, timeout)
	}
	err := t.hc.DoTimeout(req, resp, timeout)
	if errors.Is(err, errStaleConn) {
		// The others in the pool have been idle longer than this one, so
		// the endpoint has closed them too, most likely.
		t.hc.CloseIdleConnections()
		err = t.doFresh(req, resp, timeout)
	}
	return err
}

// doFresh sends req on a connection of its own, closed after the answer.
func (t *transport) doFresh(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	c := t.fresh
	if req.IsBodyStream() && req.Header.ContentLength() < 0 {
		c = t.chunked
	}
	if req.Header.ConnectionClose() {
		return c.DoTimeout(req, resp, timeout)
	}
	req.Header.SetConnectionClose()
	err := c.DoTimeout(req, resp, timeout)
	req.Header.ResetConnectionClose() // the client's connection stays open
	return err
}

func closeTransport(t any) {
	if tr, ok := t.(*transport); ok {
		tr.closed.Store(true) // the loops close theirs when they next look
		tr.hc.CloseIdleConnections()
		tr.fresh.CloseIdleConnections()
		tr.chunked.CloseIdleConnections()
	}
}

// staleTransport is fasthttp's transport, with its failures on a pooled
// connection that the endpoint had closed marked errStaleConn. fasthttp
// reports any failure before the first response byte as the same EOF, so
// only the connection can tell; the response names the connection used.
type staleTransport struct{}

func (staleTransport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	resp.ParseNetConn(noConn{}) // forget the connection of an earlier try
	retry, err := fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	if err != nil {
		// On failure fasthttp has closed the connection: it is ours alone.
		if a, ok := resp.RemoteAddr().(*endpointAddr); ok && a.c.stale {
			return retry, fmt.Errorf("%w: %w", errStaleConn, err)
		}
	}
	return retry, err
}

// noConn has no addresses.
type noConn struct{ net.Conn }

func (noConn) RemoteAddr() net.Addr { return nil }
func (noConn) LocalAddr() net.Addr  { return nil }
