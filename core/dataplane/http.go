package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/routing"
)

// httpServer proxies the HTTP/1.1 connections of one port.
type httpServer struct {
	dp    *DataPlane
	port  int
	srv   *fasthttp.Server
	ln    *chanListener
	conns connSet
	live  liveConns // connections served by event loops
	ended chan struct{}

	// The goroutine server (srv.Serve) starts with the first connection
	// pushed to it: the event loops serve most ports without it, and an
	// idle gateway then costs one goroutine, its accept loop's.
	startMu sync.Mutex
	started bool
	stopped bool // shutdown began: it starts no more
}

func newHTTPServer(dp *DataPlane, p *portListener) *httpServer {
	h := &httpServer{dp: dp, port: p.port, ln: newChanListener(p.ln.Addr()), ended: make(chan struct{})}
	o := dp.opts
	handler := h.handle
	if o.AccessLog != nil {
		handler = h.handleLogged
	}
	h.srv = &fasthttp.Server{
		Handler:                       handler,
		Name:                          "",
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		StreamRequestBody:             true,
		ReadBufferSize:                o.MaxHeaderBytes,
		ReadTimeout:                   o.ReadTimeout,
		IdleTimeout:                   o.IdleTimeout,
		WriteTimeout:                  o.WriteTimeout,
		CloseOnShutdown:               true,
		SecureErrorLogMessage:         true,
		DisableHeaderNamesNormalizing: false,
		Logger:                        fasthttpLogger{dp.log},
	}
	h.srv.ErrorHandler = h.unreadable
	return h
}

// push hands a connection to the goroutine server, starting it if need be.
func (h *httpServer) push(c net.Conn) {
	h.startMu.Lock()
	if !h.started && !h.stopped {
		h.started = true
		go func() {
			defer close(h.ended)
			_ = h.srv.Serve(h.ln)
		}()
	}
	h.startMu.Unlock()
	h.ln.push(c)
}

func (h *httpServer) protocol() string { return string(gateway.HTTP) }

func (h *httpServer) serve(c net.Conn) {
	tc := h.dp.track(c, h.port, &h.conns)
	if t, ok := tc.(*trackedConn); ok {
		if lh := h.dp.loopHTTP(); lh != nil {
			go h.serveOnLoop(lh, t)
			return
		}
	}
	h.push(tc)
}

func (h *httpServer) shutdown(deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	h.live.drain()
	h.startMu.Lock()
	h.stopped = true
	started := h.started
	h.startMu.Unlock()
	h.ln.Close() // a push from now on closes its connection
	if started {
		_ = h.srv.ShutdownWithContext(ctx)
		<-h.ended
	}
	h.conns.wait(deadline) // hijacked (WebSocket) and stuck connections
}

// handle proxies one request. It loads the table once; everything it
// decides comes from that generation, even if a newer one is swapped in
// while it waits on the backend.
func (h *httpServer) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	t := h.dp.table.Load()
	g := t.Gateway(h.port)
	if g == nil { // the port is closing: its gateway was removed
		ctx.SetConnectionClose()
		ctx.Error("turnout: no gateway on this port\n", fasthttp.StatusServiceUnavailable)
		return
	}
	d, hs, cookie, reject := h.route(ctx, g)
	switch reject {
	case routed:
	case badHeaderName, badHost, badTarget:
		clientError(g, metrics.ClientHead)
		ctx.SetConnectionClose()
		ctx.Error(reject.body(), fasthttp.StatusBadRequest)
		return
	default:
		h.reject(ctx, g, reject.status())
		return
	}
	r := d.Route
	if h.dp.opts.AccessLog != nil {
		ctx.SetUserValue(accessRoute, r.Name)
	}
	clientClose := ctx.Request.Header.ConnectionClose()
	if ctx.Request.Header.ConnectionUpgrade() && len(ctx.Request.Header.PeekBytes(headerUpgrade)) > 0 {
		rewrite(ctx, g, d, cookie)
		h.upgrade(ctx, d, hs, start)
		return
	}
	prepare(ctx, g, d, cookie, hs)
	logged := h.dp.opts.AccessLog != nil
	if logged {
		ctx.SetUserValue(accessRequestID, requestID(&ctx.Request.Header))
	}

	var body *clientBody
	if ctx.Request.IsBodyStream() {
		body = &clientBody{r: ctx.RequestBodyStream(), conn: ctx.Conn(), idle: h.dp.opts.ReadTimeout,
			chunked: ctx.Request.Header.ContentLength() < 0}
		ctx.Request.SetBodyStream(body, ctx.Request.Header.ContentLength())
		if logged {
			ctx.SetUserValue(accessBody, body)
		}
	}
	if m := r.Mirror; m != nil && m.Take() && readForMirror(ctx, body) {
		h.dp.mirror(ctx, r)
	}
	var e *routing.Endpoint
	var status int
	if body == nil || body.err == nil {
		e, status = h.roundTrip(ctx, r, d.Endpoint)
	}
	if e != nil && h.dp.opts.AccessLog != nil {
		ctx.SetUserValue(accessEndpoint, e.Addr)
	}
	clientFault := e == nil && body != nil && body.err != nil
	if clientFault {
		// The client's own body broke (a malformed chunk) or stalled: its
		// fault, not the endpoint's, and the connection cannot be trusted
		// further.
		status = fasthttp.StatusBadRequest
		if isTimeout(body.err) {
			status = fasthttp.StatusRequestTimeout
		}
	}
	if e == nil {
		ctx.Response.Reset()
		ctx.SetConnectionClose()
		ctx.Error(errorBody(status), status)
		if clientFault || status == fasthttp.StatusBadRequest {
			clientError(g, metrics.ClientBody) // no failure of the route
		} else {
			r.Metrics.Failed(status, time.Since(start))
		}
		return
	}
	if n := ctx.Response.Header.ContentLength(); n >= 0 && n <= bufferUpTo && ctx.Response.IsBodyStream() {
		// A small body of known size is read now, which hands the endpoint
		// connection back to the pool before the client is written to;
		// bigger, chunked or close-delimited bodies keep streaming. A body
		// cut short is a failed exchange, not a shorter valid response.
		if len(ctx.Response.Body()) != n {
			r.Metrics.Error(metrics.ErrUpstream)
			ctx.Response.Reset()
			ctx.SetConnectionClose()
			ctx.Error(errorBody(fasthttp.StatusBadGateway), fasthttp.StatusBadGateway)
			r.Metrics.Failed(fasthttp.StatusBadGateway, time.Since(start))
			return
		}
	}
	dropHopByHop(&ctx.Response.Header, scanResponse(&ctx.Response.Header), false)
	if clientClose {
		ctx.SetConnectionClose()
	}
	if d.SetCookie {
		h.setCookie(ctx, g, r, e)
	}
	if needsCloseDelimited(ctx) {
		writeCloseDelimited(ctx)
	}
	r.Metrics.Observe(ctx.Response.StatusCode(), time.Since(start))
}

// refusal is why route answers a request itself instead of routing it.
type refusal uint8

const (
	routed        refusal = iota
	badHeaderName         // 400: a header name that is not a token
	badHost               // 400: a Host that is not host[:port]
	badTarget             // 400: a request target with a fragment
	hostNotServed         // 404: a host the gateway does not serve
	noRoute               // 503: no route takes the request
)

func (r refusal) status() int {
	switch r {
	case badHeaderName, badHost, badTarget:
		return fasthttp.StatusBadRequest
	case hostNotServed:
		return fasthttp.StatusNotFound
	default:
		return fasthttp.StatusServiceUnavailable
	}
}

// body is the answer to a malformed request.
func (r refusal) body() string {
	switch r {
	case badHost:
		return "turnout: malformed Host header\n"
	case badTarget:
		return "turnout: malformed request target: a fragment (#) is not sent in a request\n"
	}
	return "turnout: malformed header name\n"
}

// route checks a parsed request and decides its route, for both ways of
// serving a connection; reject says why it cannot be routed, if it cannot.
func (h *httpServer) route(ctx *fasthttp.RequestCtx, g *routing.Gateway) (d routing.Decision, hs seen, cookie []byte, reject refusal) {
	hs = scanRequest(&ctx.Request.Header)
	if hs&seenBadName != 0 {
		return d, hs, nil, badHeaderName
	}
	if !validHost(ctx.Request.Header.Host()) {
		return d, hs, nil, badHost
	}
	// RFC 9112 3.2: a request target has no fragment. HAProxy refuses one
	// too; fasthttp would drop it from the path that conditions match but
	// not from what some endpoints read.
	if bytes.IndexByte(ctx.Request.Header.RequestURI(), '#') >= 0 {
		return d, hs, nil, badTarget
	}
	normaliseTarget(ctx)
	if !g.ServesHost(ctx.Request.Header.Host()) {
		return d, hs, nil, hostNotServed
	}
	if g.Sticky != gateway.StickyNone {
		cookie, _ = peekCookie(&ctx.Request.Header, g.CookieKey)
	}
	d = g.Decide((*request)(ctx), cookie)
	if d.Route == nil {
		return d, hs, cookie, noRoute
	}
	return d, hs, cookie, routed
}

// rewrite applies the route's path rewrites and takes our affinity cookie
// out (like HAProxy's "indirect": it is ours, not the endpoint's).
func rewrite(ctx *fasthttp.RequestCtx, g *routing.Gateway, d routing.Decision, cookie []byte) {
	if r := d.Route; len(r.Rewrites) > 0 {
		var buf [256]byte
		if p, ok := r.RewritePath(buf[:0], (*request)(ctx), ctx.Request.URI().PathOriginal()); ok {
			ctx.Request.URI().SetPathBytes(p)
		}
	}
	if cookie != nil {
		ctx.Request.Header.DelCookie(g.CookieName)
	}
}

// prepare makes a routed request ready for its endpoint: rewritten, without
// hop-by-hop headers, with X-Forwarded-*, and the route's Host if it sets
// one (after X-Forwarded-Host took the client's).
func prepare(ctx *fasthttp.RequestCtx, g *routing.Gateway, d routing.Decision, cookie []byte, hs seen) {
	rewrite(ctx, g, d, cookie)
	dropHopByHop(&ctx.Request.Header, hs, false)
	addForwarded(ctx, hs)
	if d.Route.Host != nil {
		ctx.Request.Header.SetHostBytes(d.Route.Host)
	}
}

// Keys of the request values the access log reads.
const (
	accessRoute     = "turnout.route"
	accessEndpoint  = "turnout.endpoint"
	accessRequestID = "turnout.request_id"
	accessBody      = "turnout.body"
)

// handleLogged is handle followed by the request's access log line.
func (h *httpServer) handleLogged(ctx *fasthttp.RequestCtx) {
	// As the client sent them: handle may set the route's Host.
	host, ua := string(ctx.Request.Header.Host()), string(ctx.Request.Header.UserAgent())
	h.handle(ctx)
	gw := ""
	if g := h.dp.table.Load().Gateway(h.port); g != nil {
		gw = g.Name
	}
	route, _ := ctx.UserValue(accessRoute).(string)
	endpoint, _ := ctx.UserValue(accessEndpoint).(string)
	id, _ := ctx.UserValue(accessRequestID).(string)
	var in int64
	if b, ok := ctx.UserValue(accessBody).(*clientBody); ok {
		in = b.n
	}
	// A streamed response is written after this returns: its size is
	// known here only from its Content-Length.
	out := int64(len(ctx.Response.Body()))
	if ctx.Response.IsBodyStream() {
		out = int64(ctx.Response.Header.ContentLength())
	}
	logAccess(h.dp.opts.AccessLog, accessEntry{
		gateway: gw, route: route, endpoint: endpoint,
		client: ctx.RemoteIP().String(),
		method: string(ctx.Method()), uri: string(ctx.RequestURI()),
		host: host, userAgent: ua, requestID: id,
		status: ctx.Response.StatusCode(), bytesIn: in, bytesOut: max(out, -1),
		duration: time.Since(ctx.Time()), end: time.Now(),
	})
}

// bufferUpTo is the largest response body read into memory instead of
// streamed.
const bufferUpTo = 64 << 10

// roundTrip sends the request to an endpoint of r, retrying on another
// endpoint when that is safe: always after a failed connect (nothing was
// sent), and after a broken exchange only for idempotent requests whose
// body is still in memory. It returns the endpoint that answered, or nil
// and the status to answer with.
func (h *httpServer) roundTrip(ctx *fasthttp.RequestCtx, r *routing.Route, pinned *routing.Endpoint) (*routing.Endpoint, int) {
	e := pinned
	if e == nil {
		e = r.Pick(nil)
	}
	// HTTP/1.0 needs no Host, but fasthttp's client sends none without one:
	// such a request gets the endpoint's address, as nginx gives it.
	noHost := len(ctx.Request.Header.Host()) == 0
	for attempt := 0; ; attempt++ {
		if e == nil {
			r.Metrics.Error(metrics.ErrNoEndpoint)
			return nil, fasthttp.StatusServiceUnavailable
		}
		if noHost {
			ctx.Request.URI().SetHost(e.Addr) // what fasthttp writes as Host
			ctx.Request.Header.SetHost(e.Addr)
		}
		e.Begin()
		tried := time.Now()
		err := e.Transport.(*transport).do(&ctx.Request, &ctx.Response, r.Timeout)
		e.End()
		if err == nil {
			e.Latency.Observe(time.Since(tried).Seconds())
			e.Succeeded()
			return e, 0
		}
		kind, status, retriable := classify(err, &ctx.Request)
		if kind == errClient {
			// The client's own body was malformed: not the endpoint's fault.
			return nil, status
		}
		r.Metrics.Error(kind)
		if kind == metrics.ErrConnect {
			e.Failed(time.Now().UnixNano(), h.dp.opts.EjectFor)
			if r.Failed != nil {
				r.Failed()
			}
		}
		h.dp.log.Debug("endpoint failed", "gateway_port", h.port, "route", r.Name, "endpoint", e.Addr, "err", err, "attempt", attempt+1)
		if !retriable || attempt >= r.Retries {
			return nil, status
		}
		if e = r.Pick(e); e == nil {
			return nil, status
		}
		r.Metrics.Retried()
	}
}

// classify maps a client error to a metric kind, the status to answer
// and whether another endpoint may be tried.
func classify(err error, req *fasthttp.Request) (kind string, status int, retriable bool) {
	var op *net.OpError
	var chunk fasthttp.ErrBrokenChunk
	switch {
	case errors.As(err, &chunk) || errors.Is(err, errClientBody):
		return errClient, fasthttp.StatusBadRequest, false
	case errors.Is(err, fasthttp.ErrDialTimeout), errors.As(err, &op) && op.Op == "dial":
		return metrics.ErrConnect, fasthttp.StatusBadGateway, true
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return metrics.ErrConnect, fasthttp.StatusServiceUnavailable, true
	case errors.Is(err, fasthttp.ErrTimeout):
		return metrics.ErrTimeout, fasthttp.StatusGatewayTimeout, false
	}
	idempotent := req.Header.IsGet() || req.Header.IsHead() || req.Header.IsOptions() || req.Header.IsPut() || req.Header.IsDelete()
	return metrics.ErrUpstream, fasthttp.StatusBadGateway, idempotent && !req.IsBodyStream()
}

// clientBody passes a streamed request body through and remembers a read
// error, which can only be the client's (the endpoint is written to, not
// read from, while the body streams).
//
// It also makes the read timeout an inactivity timeout while the body
// comes, as HAProxy's timeout client is: fasthttp's ReadTimeout bounds the
// whole request, which would cut off any upload that takes longer.
type clientBody struct {
	r    io.Reader
	conn net.Conn // the client's
	idle time.Duration
	next time.Time // when to move the read deadline again
	n    int64     // bytes read, for the access log
	err  error

	chunked bool // no Content-Length: the body comes in chunks
}

var errClientBody = errors.New("malformed request body")

func (b *clientBody) Read(p []byte) (int, error) {
	if b.idle > 0 {
		// Moving the deadline costs a timer update; once in a quarter of
		// the timeout is enough.
		if now := time.Now(); now.After(b.next) {
			b.conn.SetReadDeadline(now.Add(b.idle))
			b.next = now.Add(b.idle / 4)
		}
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
		return n, fmt.Errorf("%w: %w", errClientBody, err)
	}
	return n, err
}

// errClient marks a failure caused by the client's request, not counted
// against the endpoint.
const errClient = "client"

func errorBody(status int) string {
	switch status {
	case fasthttp.StatusBadRequest:
		return "turnout: malformed request body\n"
	case fasthttp.StatusRequestTimeout:
		return "turnout: the request was not sent in time\n"
	case fasthttp.StatusGatewayTimeout:
		return "turnout: the endpoint did not answer in time\n"
	case fasthttp.StatusServiceUnavailable:
		return "turnout: no endpoint is available for this route\n"
	default:
		return "turnout: the endpoint could not be reached\n"
	}
}

// normaliseTarget makes an absolute-form request target (GET http://h/p)
// and the Host header agree, as RFC 9112 3.2.2 says: the target's host
// wins. Otherwise virtual hosts would check one host and the endpoint see
// another. The hop to the endpoint is plain HTTP whatever the scheme said.
func normaliseTarget(ctx *fasthttp.RequestCtx) {
	uri := ctx.Request.URI()
	if host := uri.Host(); len(host) > 0 && !bytes.EqualFold(host, ctx.Request.Header.Host()) {
		ctx.Request.Header.SetHostBytes(host)
	}
	if !bytes.Equal(uri.Scheme(), valueHTTP) {
		uri.SetSchemeBytes(valueHTTP)
	}
}

// unreadable answers a request fasthttp could not read, as fasthttp does,
// and counts it as the client's error.
func (h *httpServer) unreadable(ctx *fasthttp.RequestCtx, err error) {
	if g := h.dp.table.Load().Gateway(h.port); g != nil {
		clientError(g, metrics.ClientHead)
	}
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		ctx.Error("Too big request header", fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		ctx.Error("Request timeout", fasthttp.StatusRequestTimeout)
	default:
		ctx.Error("Error when parsing request", fasthttp.StatusBadRequest)
	}
}

// clientError counts a request refused because of the client.
func clientError(g *routing.Gateway, kind int) {
	if g.Metrics != nil {
		g.Metrics.ClientError(kind)
	}
}

// reject answers a request that no route takes.
func (h *httpServer) reject(ctx *fasthttp.RequestCtx, g *routing.Gateway, status int) {
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBody(g.NoRouteBody)
	if g.Metrics != nil {
		g.Metrics.Unrouted(status)
	}
}

func (h *httpServer) setCookie(ctx *fasthttp.RequestCtx, g *routing.Gateway, r *routing.Route, e *routing.Endpoint) {
	c := fasthttp.AcquireCookie()
	var buf [32]byte
	c.SetKey(g.CookieName)
	c.SetValueBytes(g.Cookie(buf[:0], r, e))
	c.SetPath("/")
	c.SetHTTPOnly(true)
	ctx.Response.Header.SetCookie(c)
	fasthttp.ReleaseCookie(c)
	// HAProxy's "nocache": a shared cache must not hand this cookie to others.
	if len(ctx.Response.Header.PeekBytes(headerCacheControl)) == 0 {
		ctx.Response.Header.SetCanonical(headerCacheControl, valuePrivate)
	}
}
