package dataplane

import (
	"context"
	"errors"
	"net"
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
	ended chan struct{}
}

func newHTTPServer(dp *DataPlane, p *portListener) *httpServer {
	h := &httpServer{dp: dp, port: p.port, ln: newChanListener(p.ln.Addr()), ended: make(chan struct{})}
	o := dp.opts
	h.srv = &fasthttp.Server{
		Handler:                       h.handle,
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
	go func() {
		defer close(h.ended)
		_ = h.srv.Serve(h.ln)
	}()
	return h
}

func (h *httpServer) protocol() string { return string(gateway.HTTP) }

func (h *httpServer) serve(c net.Conn) {
	h.ln.push(h.dp.track(c, h.port, &h.conns))
}

func (h *httpServer) shutdown(deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	h.ln.Close()
	_ = h.srv.ShutdownWithContext(ctx)
	<-h.ended
	h.conns.wait(deadline) // hijacked (WebSocket) and stuck connections
}

var (
	headerXFF          = []byte("X-Forwarded-For")
	headerXFProto      = []byte("X-Forwarded-Proto")
	headerXFHost       = []byte("X-Forwarded-Host")
	headerCacheControl = []byte("Cache-Control")
	valueHTTP          = []byte("http")
	valuePrivate       = []byte("private")
	hopByHop           = []string{"Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"}
)

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
	req := (*request)(ctx)
	if !g.ServesHost(ctx.Request.Header.Host()) {
		h.reject(ctx, g, fasthttp.StatusNotFound, start)
		return
	}
	var cookie []byte
	if g.Sticky != gateway.StickyNone {
		cookie = ctx.Request.Header.Cookie(g.CookieName)
	}
	d := g.Decide(req, cookie)
	r := d.Route
	if r == nil {
		h.reject(ctx, g, fasthttp.StatusServiceUnavailable, start)
		return
	}
	if len(r.Rewrites) > 0 {
		var buf [256]byte
		if p, ok := r.RewritePath(buf[:0], req); ok {
			ctx.Request.URI().SetPathBytes(p)
		}
	}
	if cookie != nil {
		// Like HAProxy's "indirect": the affinity cookie is ours, not the backend's.
		ctx.Request.Header.DelCookie(g.CookieName)
	}
	clientClose := ctx.Request.Header.ConnectionClose()
	if ctx.Request.Header.ConnectionUpgrade() {
		h.upgrade(ctx, g, d, start)
		return
	}
	prepareRequest(ctx)

	e, status := h.roundTrip(ctx, r, d.Endpoint)
	if e == nil {
		ctx.Response.Reset()
		ctx.SetConnectionClose()
		ctx.Error(errorBody(status), status)
		r.Metrics.Observe(0, time.Since(start))
		return
	}
	resp := &ctx.Response.Header
	resp.ResetConnectionClose()
	for _, k := range hopByHop {
		resp.Del(k)
	}
	if clientClose {
		ctx.SetConnectionClose()
	}
	if d.SetCookie {
		h.setCookie(ctx, g, r, e)
	}
	r.Metrics.Observe(ctx.Response.StatusCode(), time.Since(start))
}

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
	for attempt := 0; ; attempt++ {
		if e == nil {
			r.Metrics.Error(metrics.ErrNoEndpoint)
			return nil, fasthttp.StatusServiceUnavailable
		}
		hc := e.Transport.(*fasthttp.HostClient)
		e.Begin()
		err := hc.DoTimeout(&ctx.Request, &ctx.Response, r.Timeout)
		e.End()
		if err == nil {
			e.Succeeded()
			return e, 0
		}
		kind, status, retriable := classify(err, &ctx.Request)
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
		e = r.Pick(e)
		if e != nil {
			r.Metrics.Error(metrics.ErrRetried)
		}
	}
}

// classify maps a client error to a metric kind, the status to answer
// and whether another endpoint may be tried.
func classify(err error, req *fasthttp.Request) (kind string, status int, retriable bool) {
	var op *net.OpError
	switch {
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

func errorBody(status int) string {
	switch status {
	case fasthttp.StatusGatewayTimeout:
		return "turnout: the endpoint did not answer in time\n"
	case fasthttp.StatusServiceUnavailable:
		return "turnout: no endpoint is available for this route\n"
	default:
		return "turnout: the endpoint could not be reached\n"
	}
}

// reject answers a request that no route takes.
func (h *httpServer) reject(ctx *fasthttp.RequestCtx, g *routing.Gateway, status int, start time.Time) {
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBody(g.NoRouteBody)
	if g.Metrics != nil {
		g.Metrics.NoRoute.Observe(status, time.Since(start))
	}
}

// prepareRequest turns the client's request into the backend's: hop-by-hop
// headers go, X-Forwarded-* come.
func prepareRequest(ctx *fasthttp.RequestCtx) {
	hdr := &ctx.Request.Header
	if v := hdr.Peek("Connection"); len(v) > 0 {
		removeConnectionTokens(hdr, v)
	}
	hdr.ResetConnectionClose()
	hdr.Del("Connection")
	for _, k := range hopByHop {
		hdr.Del(k)
	}
	addForwarded(ctx)
}

func addForwarded(ctx *fasthttp.RequestCtx) {
	hdr := &ctx.Request.Header
	var buf [128]byte
	v := buf[:0]
	if prior := hdr.PeekBytes(headerXFF); len(prior) > 0 {
		v = append(v, prior...)
		v = append(v, ", "...)
	}
	v = (*request)(ctx).Source().AppendTo(v)
	hdr.SetCanonical(headerXFF, v)
	hdr.SetCanonical(headerXFProto, valueHTTP)
	if len(hdr.PeekBytes(headerXFHost)) == 0 {
		if host := hdr.Host(); len(host) > 0 {
			hdr.SetCanonical(headerXFHost, host)
		}
	}
}

// removeConnectionTokens deletes the headers a Connection header names
// (RFC 9110 7.6.1), other than keep-alive and close which fasthttp handles.
func removeConnectionTokens(hdr *fasthttp.RequestHeader, v []byte) {
	var names [8][32]byte
	var lens [8]int
	n := 0
	for len(v) > 0 && n < len(names) {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		tok := trimSpace(v[:i])
		if len(tok) > 0 && len(tok) <= 32 && !equalFold(tok, "keep-alive") && !equalFold(tok, "close") && !equalFold(tok, "upgrade") {
			lens[n] = copy(names[n][:], tok)
			n++
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	for i := range n {
		hdr.DelBytes(names[i][:lens[i]])
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

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
