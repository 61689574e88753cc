package dataplane

import (
	"bufio"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/turnout/turnout/core/dataplane/pump"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/routing"
)

// upgrade handles a "Connection: Upgrade" request (WebSocket and the like).
// It sends the request to an endpoint on a connection of its own and reads
// the answer's head. Only a 101 turns the exchange into a tunnel that
// copies bytes both ways; any other answer is relayed as a normal response
// that closes the client connection, so a refused upgrade can never leave
// a raw pipe past the gateway's checks.
func (h *httpServer) upgrade(ctx *fasthttp.RequestCtx, d routing.Decision, hs seen, start time.Time) {
	r := d.Route
	dropHopByHop(&ctx.Request.Header, hs, true)
	ctx.Request.Header.SetCanonical(headerConnection, valueUpgrade)
	addForwarded(ctx, hs)
	if d.Route.Host != nil {
		ctx.Request.Header.SetHostBytes(d.Route.Host)
	}
	backend, e, tried := h.dp.dial(r, d.Endpoint)
	if backend == nil {
		r.Metrics.Failed(fasthttp.StatusBadGateway, time.Since(start))
		ctx.SetConnectionClose()
		ctx.Error(errorBody(fasthttp.StatusBadGateway), fasthttp.StatusBadGateway)
		return
	}
	// The handshake is bounded by the route's timeout; the tunnel is not.
	backend.SetDeadline(time.Now().Add(r.Timeout))
	w := bufio.NewWriter(backend)
	err := ctx.Request.Write(w)
	if err == nil {
		err = w.Flush()
	}
	br := bufio.NewReader(backend)
	var head fasthttp.ResponseHeader
	if err == nil {
		err = head.Read(br)
	}
	if err != nil {
		backend.Close()
		r.Metrics.Error(metrics.ErrUpstream)
		r.Metrics.Failed(fasthttp.StatusBadGateway, time.Since(start))
		ctx.SetConnectionClose()
		ctx.Error(errorBody(fasthttp.StatusBadGateway), fasthttp.StatusBadGateway)
		return
	}
	e.Latency.Observe(time.Since(tried).Seconds())
	if head.StatusCode() != fasthttp.StatusSwitchingProtocols {
		h.refusedUpgrade(ctx, r, &head, br, backend, start)
		return
	}
	backend.SetDeadline(time.Time{})
	r.Metrics.Observe(fasthttp.StatusSwitchingProtocols, time.Since(start))
	e.Begin()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		defer e.End()
		// The 101 head, then whatever the endpoint sent right after it.
		if _, err := client.Write(head.Header()); err != nil {
			client.Close()
			backend.Close()
			return
		}
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			if _, err := client.Write(b); err != nil {
				client.Close()
				backend.Close()
				return
			}
		}
		pump.Copy(client, backend)
	})
}

// refusedUpgrade relays an endpoint's non-101 answer to an upgrade request
// and closes both connections after it.
func (h *httpServer) refusedUpgrade(ctx *fasthttp.RequestCtx, r *routing.Route, head *fasthttp.ResponseHeader, br *bufio.Reader, backend net.Conn, start time.Time) {
	defer backend.Close()
	head.CopyTo(&ctx.Response.Header)
	if err := ctx.Response.ReadBody(br, 4<<20); err != nil {
		ctx.Response.Reset()
		r.Metrics.Error(metrics.ErrUpstream)
		ctx.SetConnectionClose()
		ctx.Error(errorBody(fasthttp.StatusBadGateway), fasthttp.StatusBadGateway)
		r.Metrics.Failed(fasthttp.StatusBadGateway, time.Since(start))
		return
	}
	dropHopByHop(&ctx.Response.Header, scanResponse(&ctx.Response.Header), false)
	ctx.SetConnectionClose()
	r.Metrics.Observe(ctx.Response.StatusCode(), time.Since(start))
}
