package dataplane

import (
	"errors"
	"net"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"github.com/turnout/turnout/core/dataplane/eventloop"
	"github.com/turnout/turnout/core/dataplane/pump"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/routing"
)

// exchange is a request in flight on a loop, from its endpoint choice to
// the last byte of its response. It makes the goroutine path's choices:
// retry another endpoint after a failed connect, and after a broken
// exchange if the request is idempotent; re-send once on a fresh
// connection when a pooled one turns out closed before any answer byte;
// eject endpoints that refuse connections.
type exchange struct {
	c     *clientConn
	g     *routing.Gateway
	r     *routing.Route
	d     routing.Decision
	e     *routing.Endpoint // the endpoint tried now (Begin called)
	up    *upConn
	head  []byte // the request head for the endpoint
	start time.Time
	gen   uint64 // tells a late dial result from a current one

	active               bool
	isHead, idempotent   bool
	clientClose          bool
	attempt              int
	reused, staleRetried bool
	gotHead              bool   // the response head has been read
	sent                 bool   // bytes of the response reached the client
	observed             bool   // the route's metrics have the exchange
	hold                 []byte // a small response kept until it is whole
	status               int
	frame                bodyEnd
	keepUp               bool // the endpoint connection may serve another request

	// For the access log: the endpoint tried last, and (only with an
	// access log) the request as the client sent it, and the body bytes.
	addr, method, uri   string
	host, userAgent, id string
	bytesIn, bytesOut   int64

	tried time.Time // when the current endpoint was given the request
}

func (ex *exchange) begin() {
	e := ex.d.Endpoint
	if e == nil {
		e = ex.r.Pick(nil)
	}
	if e == nil {
		ex.r.Metrics.Error(metrics.ErrNoEndpoint)
		ex.failWith(503)
		return
	}
	ex.attach(e, true)
}

// attach sends the request to e, on a pooled connection if allowed and
// there is one, else on a new one.
func (ex *exchange) attach(e *routing.Endpoint, pooled bool) {
	ex.addr = e.Addr
	ex.e = e
	ex.tried = time.Now()
	e.Begin()
	if pooled {
		if up := ex.c.st.takeIdle(e); up != nil {
			ex.reused = true
			up.bind(ex)
			return
		}
	}
	ex.reused = false
	ex.dial(e)
}

// dial connects in a goroutine (name resolution and connect timeout as
// everywhere else) and gives the socket to the loop.
func (ex *exchange) dial(e *routing.Endpoint) {
	c, gen := ex.c, ex.gen
	st := c.st
	dialer := net.Dialer{Timeout: c.h.dp.opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	go func() {
		fd := -1
		nc, err := dialer.Dial("tcp", e.Addr)
		if err == nil {
			fd, err = pump.TakeFD(nc.(*net.TCPConn))
			nc.Close()
		}
		ok := st.loop.Submit(func() { ex.dialed(gen, e, fd, err) })
		if !ok && fd >= 0 {
			unix.Close(fd)
		}
	}()
}

func (ex *exchange) dialed(gen uint64, e *routing.Endpoint, fd int, err error) {
	if ex.c.ended || !ex.active || ex.gen != gen {
		if fd >= 0 {
			unix.Close(fd)
		}
		return
	}
	if err != nil {
		ex.connectFailed(err)
		return
	}
	up := newUpConn(ex.c.st, fd, e)
	up.bind(ex)
}

func (ex *exchange) connectFailed(err error) {
	r := ex.r
	r.Metrics.Error(metrics.ErrConnect)
	ex.e.Failed(time.Now().UnixNano(), ex.c.h.dp.opts.EjectFor)
	if r.Failed != nil {
		r.Failed()
	}
	ex.leave(err, true)
}

// broken: the endpoint connection failed before any response byte.
func (ex *exchange) broken(err error) {
	ex.dropUp()
	if ex.reused && !ex.staleRetried {
		// A pooled connection the endpoint closed while it was idle (or
		// as the request arrived, without reading it). The loop holds the
		// whole request, body included: it goes again, whatever it is.
		ex.staleRetried = true
		ex.reused = false
		ex.dial(ex.e)
		return
	}
	ex.r.Metrics.Error(metrics.ErrUpstream)
	ex.leave(err, ex.idempotent)
}

// leave gives up on the current endpoint after err: another one of the
// route is tried if retry allows it and the route's retries are not used
// up, else the client gets a 502.
func (ex *exchange) leave(err error, retry bool) {
	r, e := ex.r, ex.e
	ex.c.h.dp.log.Debug("endpoint failed", "gateway_port", ex.c.h.port, "route", r.Name, "endpoint", e.Addr, "err", err, "attempt", ex.attempt+1)
	e.End()
	ex.e = nil
	if retry && ex.attempt < r.Retries {
		if e2 := r.Pick(e); e2 != nil {
			r.Metrics.Retried()
			ex.attempt++
			ex.attach(e2, true)
			return
		}
	}
	ex.failWith(502)
}

// failWith ends the exchange without a response from an endpoint.
func (ex *exchange) failWith(status int) {
	if ex.e != nil {
		ex.e.End()
		ex.e = nil
	}
	ex.dropUp()
	ex.observeFailed(status)
	ex.logAccess(status)
	ex.active = false
	if ex.sent {
		ex.c.close() // part of a response went out: only closing can tell
		return
	}
	ex.c.fail(status)
}

// dropUp closes the endpoint connection: it is in an unknown state.
func (ex *exchange) dropUp() {
	if up := ex.up; up != nil {
		ex.up, up.ex = nil, nil
		up.close()
	}
}

// abandon: the client went away with its request in flight.
func (ex *exchange) abandon() {
	ex.dropUp()
	if ex.e != nil {
		ex.e.End()
		ex.e = nil
	}
	if ex.gotHead {
		ex.observe(ex.status)
	}
	ex.logAccess(ex.status)
	ex.active = false
	ex.gen++
}

// observe puts the exchange in its route's metrics, once: when its
// response head goes to the client (the duration ends there, as on the
// goroutine path), or when it fails.
func (ex *exchange) observe(status int) {
	if !ex.observed {
		ex.observed = true
		ex.r.Metrics.Observe(status, time.Since(ex.start))
	}
}

// observeFailed puts the exchange in its route's metrics as one no
// endpoint answered: the gateway answered status itself.
func (ex *exchange) observeFailed(status int) {
	if !ex.observed {
		ex.observed = true
		ex.r.Metrics.Failed(status, time.Since(ex.start))
	}
}

// logAccess queues the exchange's access log line, if there is a log.
// It is called once, where the exchange ends.
func (ex *exchange) logAccess(status int) {
	w := ex.c.st.access
	if w == nil {
		return
	}
	client := ""
	if a, ok := ex.c.raddr.(*net.TCPAddr); ok {
		client = a.IP.String()
	}
	now := time.Now()
	w.add(accessEntry{
		gateway: ex.g.Name, route: ex.r.Name, endpoint: ex.addr,
		client: client, method: ex.method, uri: ex.uri,
		host: ex.host, userAgent: ex.userAgent, requestID: ex.id,
		status: status, bytesIn: ex.bytesIn, bytesOut: ex.bytesOut,
		duration: now.Sub(ex.start), end: now,
	})
}

// complete: the whole response went to the client (or into its buffer).
func (ex *exchange) complete() {
	c, e, up := ex.c, ex.e, ex.up
	ex.observe(ex.status)
	ex.logAccess(ex.status)
	e.Succeeded()
	e.End()
	ex.e, ex.up, up.ex = nil, nil, nil
	if ex.keepUp {
		up.release()
	} else {
		up.close()
	}
	ex.active = false
	if len(c.out) == 0 {
		c.idle()
	} else {
		c.update()
	}
}

// onHead reads response heads from data (with what an earlier read left),
// forwards them, and the body bytes that came with the final one.
func (ex *exchange) onHead(data []byte) {
	c, up := ex.c, ex.up
	st := c.st
	maxHead := c.h.dp.opts.MaxHeaderBytes
	src := data
	if len(up.in) > 0 {
		up.in = append(up.in, data...)
		src = up.in
	}
	out := st.scratch[:0]
	for !ex.gotHead {
		var hc headCheck
		if hc.scan(src) != nil {
			// fasthttp would wait on a bare LF, and join a folded line.
			ex.r.Metrics.Error(metrics.ErrUpstream)
			ex.failWith(502)
			return
		}
		resp := &st.resp
		st.feed = feed{b: src}
		st.br.Reset(&st.feed)
		err := resp.Read(st.br)
		if errors.Is(err, errWouldBlock) && len(src) < maxHead {
			up.in = append(up.in[:0], src...)
			ex.forward(out) // interim responses, if any
			return
		}
		status := resp.StatusCode()
		if err != nil || status == 101 {
			// Malformed, too big, or a protocol switch nobody asked for.
			ex.r.Metrics.Error(metrics.ErrUpstream)
			ex.failWith(502)
			return
		}
		n := st.feed.pos - st.br.Buffered()
		if status < 200 {
			out = append(out, src[:n]...) // 103 Early Hints and the like
			src = src[n:]
			continue
		}
		ex.gotHead, ex.status = true, status
		ex.e.Latency.Observe(time.Since(ex.tried).Seconds())
		out = ex.responseHead(out, src[:n], resp)
		src = src[n:]
	}
	n, done, err := ex.frame.feed(src)
	ex.bytesOut += int64(n)
	out = append(out, src[:n]...)
	st.scratch = out[:0]
	if done && n < len(src) {
		ex.keepUp = false // bytes after the response: the connection is not in step
	}
	up.in = up.in[:0]
	if !done && err == nil && ex.frame.kind == frameLength && ex.frame.remain <= bufferUpTo {
		// Like the goroutine path: a small body of known length is read
		// whole before the client sees any of it, so one the endpoint cuts
		// short becomes a 502, not a shorter response that looks valid.
		ex.hold = append(ex.hold[:0], out...)
		return
	}
	if !ex.forward(out) {
		return
	}
	switch {
	case err != nil:
		ex.truncated(metrics.ErrUpstream)
	case done:
		ex.complete()
	}
}

// forward sends response bytes to the client.
func (ex *exchange) forward(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if ex.gotHead {
		ex.observe(ex.status)
	}
	ex.sent = true
	return ex.c.send(b)
}

// onBody forwards response body bytes, or adds them to a held response.
func (ex *exchange) onBody(data []byte) {
	n, done, err := ex.frame.feed(data)
	ex.bytesOut += int64(n)
	if ex.hold != nil {
		ex.hold = append(ex.hold, data[:n]...)
		if !done {
			return
		}
		b := ex.hold
		ex.hold = nil
		if !ex.forward(b) {
			return
		}
	} else if !ex.forward(data[:n]) {
		return
	}
	switch {
	case err != nil:
		ex.truncated(metrics.ErrUpstream)
	case done:
		if n < len(data) {
			ex.keepUp = false
		}
		ex.complete()
	}
}

// truncated: the response broke off after its head was read. If none of
// it reached the client (a held small response) that is a 502.
func (ex *exchange) truncated(kind string) {
	ex.r.Metrics.Error(kind)
	if !ex.sent {
		ex.hold = nil
		ex.failWith(502)
		return
	}
	ex.dropUp()
	ex.e.End()
	ex.e = nil
	ex.observe(ex.status)
	ex.logAccess(ex.status)
	ex.active = false
	ex.c.close()
}

// responseHead appends the head to forward: the endpoint's own bytes, or
// those edited when hop-by-hop headers must go or lines must come.
func (ex *exchange) responseHead(out, head []byte, resp *fasthttp.ResponseHeader) []byte {
	c := ex.c
	st := c.st
	status := ex.status
	kind := frameClose
	var remain int64
	switch cl := resp.ContentLength(); {
	case ex.isHead || status == 204 || status == 304:
		kind = frameNone
	case cl >= 0:
		kind, remain = frameLength, int64(cl)
	case cl == -1:
		kind = frameChunked
	}
	ex.frame = bodyEnd{kind: kind, remain: remain}
	ex.keepUp = !resp.ConnectionClose() && kind != frameClose
	if kind == frameLength && remain == 0 {
		ex.frame.kind = frameNone
	}

	extra := st.extra[:0]
	if ex.d.SetCookie {
		var buf [32]byte
		ck := &st.cookie
		ck.Reset()
		ck.SetKey(ex.g.CookieName)
		ck.SetValueBytes(ex.g.Cookie(buf[:0], ex.r, ex.e))
		ck.SetPath("/")
		ck.SetHTTPOnly(true)
		extra = append(extra, "Set-Cookie: "...)
		extra = ck.AppendBytes(extra)
		extra = append(extra, "\r\n"...)
		// HAProxy's "nocache": a shared cache must not hand this cookie to others.
		if len(resp.PeekBytes(headerCacheControl)) == 0 {
			extra = append(extra, "Cache-Control: private\r\n"...)
		}
	}
	if ex.clientClose || c.closing || kind == frameClose || c.h.live.draining.Load() {
		c.closing = true
		extra = append(extra, "Connection: close\r\n"...)
	}
	st.extra = extra
	hs := scanResponse(resp)
	// A 204 has no body, and no Content-Length either (RFC 9110 8.6): one
	// the endpoint sent anyway is dropped, as HAProxy does.
	noLength := kind == frameChunked || status == 204
	if hs&hopByHop == 0 && !noLength && len(extra) == 0 {
		return append(out, head...)
	}
	drop := dropSet{bits: hs & hopByHop, contentLength: noLength}
	if hs&seenConnection != 0 {
		drop.tokens.collect(resp.PeekAll("Connection"))
	}
	return editHead(out, head, &drop, extra)
}

// upConn is a connection to an endpoint, owned by one loop: serving an
// exchange, or idle in its endpoint's pool for that loop.
type upConn struct {
	st       *loopState
	fd       int
	e        *routing.Endpoint
	tr       *transport
	ex       *exchange
	in       []byte // part of a response head
	out      []byte // part of the request head not written yet
	interest uint32
	timer    *eventloop.Timer // the route's timeout, or the idle timeout
	gotBytes bool             // the current exchange has had response bytes
	ended    bool
}

func newUpConn(st *loopState, fd int, e *routing.Endpoint) *upConn {
	up := &upConn{st: st, fd: fd, e: e, tr: e.Transport.(*transport)}
	up.timer = eventloop.NewTimer(up.timedOut)
	st.loop.Own(up)
	return up
}

// bind sends ex's request on up.
func (up *upConn) bind(ex *exchange) {
	up.ex, ex.up = ex, up
	up.gotBytes = false
	up.in = up.in[:0]
	w, err := eventloop.Write(up.fd, ex.head)
	if err != nil {
		ex.broken(err)
		return
	}
	if w < len(ex.head) {
		up.out = ex.head[w:]
	}
	if t := ex.r.Timeout; t > 0 {
		up.st.loop.Reset(up.timer, t)
	} else {
		up.timer.Stop()
	}
	up.update()
}

func (up *upConn) Stop(error) { up.close() }

func (up *upConn) Event(ev uint32) {
	if ev&(eventloop.Writable|eventloop.Error|eventloop.Hangup) != 0 && len(up.out) > 0 {
		w, err := eventloop.Write(up.fd, up.out)
		if err != nil {
			up.ex.broken(err)
			return
		}
		up.out = up.out[w:]
		up.update()
	}
	if ev&(eventloop.Readable|eventloop.Error|eventloop.Hangup) != 0 {
		if up.wantRead() {
			up.read()
		} else {
			up.update() // not now: leave the epoll set until the client catches up
		}
	}
}

// wantRead: an idle connection is watched for its close; a busy one is
// read while the client takes what it sends.
func (up *upConn) wantRead() bool {
	return up.ex == nil || len(up.ex.c.out) == 0
}

func (up *upConn) update() {
	if up.ended {
		return
	}
	var want uint32
	if up.wantRead() {
		want |= eventloop.Readable
	}
	if len(up.out) > 0 {
		want |= eventloop.Writable
	}
	up.interest = setInterest(up.st.loop, up.fd, up, up.interest, want, up.fail)
}

// fail is a registration error: the connection cannot be watched.
func (up *upConn) fail() {
	if ex := up.ex; ex != nil {
		ex.broken(errors.New("epoll registration failed"))
		return
	}
	up.close()
}

func (up *upConn) read() {
	buf := up.st.loop.Buffer()
	n, err := eventloop.Read(up.fd, buf)
	if err == unix.EAGAIN {
		return
	}
	ex := up.ex
	if ex == nil { // idle: the endpoint closed it, or sent what nobody asked for
		up.close()
		return
	}
	if err != nil || n == 0 {
		switch {
		case !up.gotBytes:
			ex.broken(err)
		case ex.gotHead && ex.frame.kind == frameClose:
			ex.keepUp = false
			ex.complete()
		default:
			ex.truncated(metrics.ErrUpstream)
		}
		return
	}
	up.gotBytes = true
	if t := ex.r.Timeout; t > 0 {
		up.st.loop.Reset(up.timer, t) // an inactivity timeout, as on the goroutine path
	}
	if ex.gotHead {
		ex.onBody(buf[:n])
	} else {
		ex.onHead(buf[:n])
	}
}

func (up *upConn) timedOut() {
	ex := up.ex
	if ex == nil {
		up.close() // idle too long
		return
	}
	if ex.gotHead {
		ex.truncated(metrics.ErrTimeout)
		return
	}
	ex.r.Metrics.Error(metrics.ErrTimeout)
	ex.failWith(504)
}

// release puts up in its endpoint's pool for this loop.
func (up *upConn) release() {
	if up.tr.closed.Load() {
		up.close()
		return
	}
	list := &up.tr.idle[up.st.id]
	*list = append(*list, up)
	up.st.loop.Reset(up.timer, up.st.upstreamIdle)
	up.update()
}

// takeIdle pops a pooled connection to e, newest first.
func (st *loopState) takeIdle(e *routing.Endpoint) *upConn {
	tr := e.Transport.(*transport)
	list := &tr.idle[st.id]
	for len(*list) > 0 {
		up := (*list)[len(*list)-1]
		*list = (*list)[:len(*list)-1]
		if tr.closed.Load() {
			up.close()
			continue
		}
		up.timer.Stop()
		return up
	}
	return nil
}

func (up *upConn) close() {
	if up.ended {
		return
	}
	up.ended = true
	if up.ex == nil { // maybe pooled: leave the pool
		list := &up.tr.idle[up.st.id]
		for i, p := range *list {
			if p == up {
				*list = append((*list)[:i], (*list)[i+1:]...)
				break
			}
		}
	}
	if up.interest != 0 {
		up.st.loop.Unregister(up.fd)
		up.interest = 0
	}
	unix.Close(up.fd)
	up.timer.Stop()
	up.st.loop.Disown(up)
}
