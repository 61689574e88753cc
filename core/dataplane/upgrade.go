package dataplane

import (
	"bufio"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/routing"
)

// upgrade tunnels a "Connection: Upgrade" request (WebSocket and the like):
// it sends the request to an endpoint on a connection of its own and, from
// then on, copies bytes both ways, so the endpoint's 101 answer and every
// frame after it pass through untouched.
func (h *httpServer) upgrade(ctx *fasthttp.RequestCtx, g *routing.Gateway, d routing.Decision, start time.Time) {
	r := d.Route
	addForwarded(ctx)
	e := d.Endpoint
	if e == nil {
		e = r.Pick(nil)
	}
	var backend net.Conn
	for attempt := 0; e != nil; attempt++ {
		c, err := net.DialTimeout("tcp", e.Addr, h.dp.opts.ConnectTimeout)
		if err == nil {
			backend = c
			break
		}
		r.Metrics.Error(metrics.ErrConnect)
		e.Failed(time.Now().UnixNano(), h.dp.opts.EjectFor)
		if r.Failed != nil {
			r.Failed()
		}
		if attempt >= r.Retries {
			e = nil
			break
		}
		e = r.Pick(e)
	}
	if backend == nil {
		ctx.SetConnectionClose()
		ctx.Error(errorBody(fasthttp.StatusBadGateway), fasthttp.StatusBadGateway)
		r.Metrics.Observe(0, time.Since(start))
		return
	}
	w := bufio.NewWriter(backend)
	err := ctx.Request.Write(w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		backend.Close()
		r.Metrics.Error(metrics.ErrUpstream)
		ctx.SetConnectionClose()
		ctx.Error(errorBody(fasthttp.StatusBadGateway), fasthttp.StatusBadGateway)
		r.Metrics.Observe(0, time.Since(start))
		return
	}
	r.Metrics.Observe(fasthttp.StatusSwitchingProtocols, time.Since(start))
	e.Begin()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		defer e.End()
		pipe(client, backend)
	})
}
