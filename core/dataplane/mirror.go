package dataplane

import (
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/turnout/turnout/core/routing"
)

// Mirroring: a route's `mirror` copies a share of its requests to another
// route of the gateway, whose answers are discarded. The copy is made on
// the request's goroutine (the head and a body already in memory) and
// handed to a few workers through a bounded queue: a full queue drops the
// copy (counted), so a slow or dead mirror never delays or fails the
// request it copies. Requests of a mirrored route are served by the
// goroutine path (the event loops hand them over).
const (
	mirrorWorkers = 4
	mirrorQueue   = 1024
	// mirrorBodyLimit bounds what of a mirror's answer is read (to keep
	// its connection) before the rest is cut.
	mirrorBodyLimit = 1 << 20
	// mirrorTimeout bounds one copy's exchange (below the route's own
	// timeout when that is shorter): a worker held by a dead mirror is
	// one the others' copies wait for, and shutdown waits for it.
	mirrorTimeout = 5 * time.Second
)

type mirrorJob struct {
	req *fasthttp.Request
	to  *routing.Route
}

// mirrors is the data plane's mirroring queue and workers.
type mirrors struct {
	jobs chan mirrorJob
	wg   sync.WaitGroup
}

// startMirrors starts the workers; they stop with the data plane.
func (d *DataPlane) startMirrors() {
	d.mirrors.jobs = make(chan mirrorJob, mirrorQueue)
	for range mirrorWorkers {
		d.mirrors.wg.Add(1)
		go d.mirrorWorker()
	}
}

// mirrorBodyMax is the largest body a copy carries: a longer one (or a
// chunked one) is not copied, and the copy counts as dropped.
const mirrorBodyMax = 64 << 10

// readForMirror reads a streamed body of known length up to mirrorBodyMax
// into memory, through body (its timeouts and errors), so that the copy
// can carry it; the request then goes on with the body in memory. It
// reports false when the read failed: the client's fault, answered as
// such, with nothing sent anywhere.
func readForMirror(ctx *fasthttp.RequestCtx, body *clientBody) bool {
	if body == nil || body.chunked || ctx.Request.Header.ContentLength() > mirrorBodyMax {
		return true // in memory already, or not copied (mirror counts it)
	}
	ctx.Request.Body()
	return body.err == nil
}

// mirror copies the request in ctx to r's mirror route, unless the queue
// is full or the body is streamed (not in memory): then the copy is
// counted as dropped.
func (d *DataPlane) mirror(ctx *fasthttp.RequestCtx, r *routing.Route) {
	m := r.Mirror
	if ctx.Request.IsBodyStream() || len(d.mirrors.jobs) == cap(d.mirrors.jobs) {
		r.Metrics.MirrorDropped() // a body not read in, or a full queue: no copy made
		return
	}
	req := fasthttp.AcquireRequest()
	ctx.Request.CopyTo(req)
	if m.To.Host != nil {
		req.Header.SetHostBytes(m.To.Host)
	}
	select {
	case d.mirrors.jobs <- mirrorJob{req: req, to: m.To}:
	default:
		fasthttp.ReleaseRequest(req)
		r.Metrics.MirrorDropped()
	}
}

func (d *DataPlane) mirrorWorker() {
	defer d.mirrors.wg.Done()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	for {
		// Stopping wins over the queue: shutdown waits for one copy per
		// worker at most, not for the queue.
		select {
		case <-d.stop:
			return
		default:
		}
		select {
		case <-d.stop:
			return
		case j := <-d.mirrors.jobs:
			d.sendMirror(j, resp)
			fasthttp.ReleaseRequest(j.req)
		}
	}
}

// sendMirror sends one copy to an endpoint of its route and counts the
// answer there (no retry: a copy is worth one try).
func (d *DataPlane) sendMirror(j mirrorJob, resp *fasthttp.Response) {
	start := time.Now()
	e := j.to.Pick(nil)
	if e == nil {
		j.to.Metrics.ObserveMirrored(0, time.Since(start))
		return
	}
	resp.Reset()
	e.Begin()
	err := e.Transport.(*transport).do(j.req, resp, min(j.to.Timeout, mirrorTimeout))
	e.End()
	status := 0
	if err == nil {
		status = resp.StatusCode()
		if s := resp.BodyStream(); s != nil {
			_, _ = io.CopyN(io.Discard, s, mirrorBodyLimit)
		}
		_ = resp.CloseBodyStream()
	}
	j.to.Metrics.ObserveMirrored(status, time.Since(start))
}
