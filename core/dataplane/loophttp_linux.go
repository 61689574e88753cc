package dataplane

import (
	"bufio"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"github.com/turnout/turnout/core/dataplane/eventloop"
	"github.com/turnout/turnout/core/dataplane/pump"
	"github.com/turnout/turnout/core/metrics"
)

// The event-loop HTTP path. A client connection is served by an epoll loop
// for as long as its requests are the common kind: a head that fasthttp
// parses, no body or a small one of known length, no upgrade. The loop
// parses the head, routes and rewrites it exactly as the goroutine path
// does (route, prepare), sends it to a pooled endpoint connection of its
// own, and forwards the response's bytes as they come, reading only their
// framing. The first request it does not take (a chunked or big body, an
// upgrade, a parse error, a request no route takes) hands the connection,
// with every byte not yet used, to
// the goroutine path (fasthttp), which serves it from then on. So rare
// and hostile requests meet the same checks as before, and the common
// request costs one read and one write on each side.

// errWouldBlock is what a feed returns when the bytes read so far are
// used up: fasthttp then reports an incomplete head with this error
// inside, which tells "wait for more" from a malformed head.
var errWouldBlock = errors.New("no more bytes yet")

// feed is the io.Reader fasthttp's head parsers read from: the bytes a
// loop has, then errWouldBlock.
type feed struct {
	b   []byte
	pos int
}

func (f *feed) Read(p []byte) (int, error) {
	if f.pos >= len(f.b) {
		return 0, errWouldBlock
	}
	n := copy(p, f.b[f.pos:])
	f.pos += n
	return n, nil
}

// loopHTTP is the data plane's set of HTTP event loops.
type loopHTTP struct {
	group  *eventloop.Group
	states map[*eventloop.Loop]*loopState // fixed once built
	n      int
	access *accessWriter // nil without an access log
}

// loopState is what one loop's connections share: only that loop uses it.
type loopState struct {
	id      int
	loop    *eventloop.Loop
	feed    feed
	br      *bufio.Reader
	ctx     fasthttp.RequestCtx // the request being parsed and routed
	addr    remoteAddr          // ctx's connection, for the client's address
	resp    fasthttp.ResponseHeader
	scratch []byte // a response head and the body bytes sent with it
	extra   []byte // header lines added to a response head
	cookie  fasthttp.Cookie
	access  *accessWriter // nil without an access log

	upstreamIdle time.Duration
}

// remoteAddr is the net.Conn fasthttp's RequestCtx asks for addresses.
type remoteAddr struct {
	net.Conn
	r net.Addr
}

func (a *remoteAddr) RemoteAddr() net.Addr { return a.r }
func (a *remoteAddr) LocalAddr() net.Addr  { return a.r }

// loopHTTP starts the loops on first use; nil when this data plane serves
// HTTP with goroutines only (asked for, a write timeout, which the loops
// do not implement, or loops that cannot start).
func (d *DataPlane) loopHTTP() *loopHTTP {
	d.loopsOnce.Do(func() {
		o := d.opts
		if o.GoroutineHTTP || o.WriteTimeout > 0 {
			return
		}
		g, err := eventloop.NewGroup(d.nloops)
		if err != nil {
			d.log.Warn("HTTP event loops unavailable: serving with goroutines", "err", err)
			return
		}
		lh := &loopHTTP{group: g, states: map[*eventloop.Loop]*loopState{}, n: len(g.Loops())}
		if o.AccessLog != nil {
			lh.access = newAccessWriter(o.AccessLog, o.Metrics.AccessLogDropped)
		}
		for i, l := range g.Loops() {
			st := &loopState{id: i, loop: l, br: bufio.NewReaderSize(nil, o.MaxHeaderBytes), access: lh.access, upstreamIdle: o.UpstreamIdle}
			st.ctx.Init2(&st.addr, fasthttpLogger{d.log}, false)
			lh.states[l] = st
		}
		d.loops = lh
	})
	return d.loops
}

func (lh *loopHTTP) close() {
	if lh != nil {
		lh.group.Close()
		if lh.access != nil {
			lh.access.close() // after the loops: they add no more lines
		}
	}
}

// loopResult is how a client connection leaves its loop: closed, or
// handed back to Go with the bytes the loop read and did not use.
type loopResult struct {
	demote  bool
	fd      int
	pending []byte
}

// serveOnLoop gives tc to an event loop and waits, parked, until the loop
// is done with it (closing tc) or hands it back (the goroutine path takes
// it). Closing tc (shutdown's stragglers) ends it on the loop.
func (h *httpServer) serveOnLoop(lh *loopHTTP, tc *trackedConn) {
	fd, err := pump.TakeFD(tc.TCPConn)
	if err != nil {
		h.push(tc)
		return
	}
	raddr := tc.RemoteAddr()
	tc.TCPConn.Close() // Go lets go of its descriptor; the loop has the duplicate
	st := lh.states[lh.group.Next()]
	c := &clientConn{h: h, st: st, fd: fd, raddr: raddr, bytes: tc.bytes, first: true, done: make(chan loopResult, 1)}
	c.timer = eventloop.NewTimer(c.timedOut)
	h.live.add(c)
	defer h.live.remove(c)
	if !st.loop.Submit(c.start) {
		unix.Close(fd)
		tc.Close()
		return
	}
	var res loopResult
	select {
	case res = <-c.done:
	case <-tc.closed:
		st.loop.Submit(c.close)
		res = <-c.done
	}
	if !res.demote {
		tc.Close()
		return
	}
	h.dp.opts.Metrics.HTTPHandoffs.Inc()
	f := os.NewFile(uintptr(res.fd), "")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		tc.Close()
		return
	}
	dc := &demotedConn{countedConn: countedConn{TCPConn: nc.(*net.TCPConn), bytes: tc.bytes}, pending: res.pending, tracked: tc}
	go func() {
		<-tc.closed // shutdown closing the stragglers, or dc.Close
		dc.TCPConn.Close()
	}()
	h.push(dc)
}

// demotedConn is a connection the loop handed back: the bytes it had read
// come first, and closing it settles the tracking.
type demotedConn struct {
	countedConn // the loop counted the pending bytes
	pending     []byte
	tracked     *trackedConn
}

func (c *demotedConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.countedConn.Read(b)
}

func (c *demotedConn) Close() error {
	err := c.TCPConn.Close()
	c.tracked.Close()
	return err
}

// liveConns are a server's connections on loops, for a graceful shutdown.
type liveConns struct {
	mu sync.Mutex
	m  map[*clientConn]struct{}
	// draining is set before any connection hears of the drain: a
	// response head forwarded after it says Connection: close even when
	// its loop has not run the connection's drain task yet.
	draining atomic.Bool
}

func (l *liveConns) add(c *clientConn) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[*clientConn]struct{}{}
	}
	l.m[c] = struct{}{}
	l.mu.Unlock()
}

func (l *liveConns) remove(c *clientConn) {
	l.mu.Lock()
	delete(l.m, c)
	l.mu.Unlock()
}

// drain asks every connection to close once its request in flight is
// answered (idle ones close now).
func (l *liveConns) drain() {
	l.draining.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.m {
		c.st.loop.Submit(c.drain)
	}
}

// clientConn is a client connection on a loop.
type clientConn struct {
	h       *httpServer
	st      *loopState
	fd      int
	raddr   net.Addr
	bytes   clientBytes
	timer   *eventloop.Timer // header read and keep-alive idle timeouts
	first   bool             // no request yet: the read timeout applies
	reading bool             // the read timeout runs (from a head's first byte)

	in       []byte  // bytes read and not used yet
	out      []byte  // bytes for the client not written yet (a view into outBuf)
	outBuf   *[]byte // pooled, held only while out is not empty
	interest uint32
	muted    bool // readable was reported when it could not be acted on

	awaitingBody bool // the head in c.in is whole, its body is not yet

	ex      exchange // the request in flight, when ex.active
	closing bool     // close once the response in flight is sent
	ended   bool
	done    chan loopResult
}

func (c *clientConn) start() {
	c.st.loop.Own(c)
	c.update()
	c.armRead()
}

func (c *clientConn) Stop(error) { c.close() }

func (c *clientConn) Event(ev uint32) {
	if ev&(eventloop.Writable|eventloop.Error|eventloop.Hangup) != 0 && len(c.out) > 0 {
		c.flush()
		if c.ended {
			return
		}
	}
	if ev&(eventloop.Readable|eventloop.Error|eventloop.Hangup) != 0 {
		if c.wantRead() {
			c.read()
			return
		}
		// Readable while a request is in flight (pipelining, or a hang-up):
		// stop listening until the response is out. Not before: leaving the
		// registration alone saves two epoll_ctl calls per request.
		c.muted = true
		c.update()
	}
}

// wantRead: one request at a time. Bytes a client sends while its request
// is in flight (pipelining) wait in the socket, and so do a closing
// client's: the response is sent before the connection is.
func (c *clientConn) wantRead() bool { return !c.ex.active && len(c.out) == 0 && !c.closing }

func (c *clientConn) update() {
	if c.ended {
		return
	}
	if c.wantRead() {
		c.muted = false
	}
	var want uint32
	if !c.muted {
		want |= eventloop.Readable
	}
	if len(c.out) > 0 {
		want |= eventloop.Writable
	}
	c.interest = setInterest(c.st.loop, c.fd, c, c.interest, want, c.close)
}

// setInterest moves fd's registration from have to want, and returns what
// is registered. A socket that waits for nothing leaves the epoll set, so
// a hang-up it cannot act on yet does not wake the loop again and again.
func setInterest(l *eventloop.Loop, fd int, h eventloop.Handler, have, want uint32, fail func()) uint32 {
	if want == have {
		return have
	}
	var err error
	switch {
	case have == 0:
		err = l.Register(fd, h, want)
	case want == 0:
		l.Unregister(fd)
	default:
		err = l.Modify(fd, want)
	}
	if err != nil {
		fail()
		return 0
	}
	return want
}

// armRead runs the clock while a request is awaited: the idle timeout
// between requests, the read timeout from the first byte of a head (and
// from the start of the connection), never restarted by later bytes, so
// a head trickled in byte by byte is cut off all the same.
func (c *clientConn) armRead() {
	o := &c.h.dp.opts
	switch {
	case c.first || len(c.in) > 0:
		if !c.reading {
			c.reading = true
			c.st.loop.Reset(c.timer, o.ReadTimeout)
		}
	default:
		c.reading = false
		c.st.loop.Reset(c.timer, o.IdleTimeout)
	}
}

// timedOut closes an idle connection, and answers 408 to one whose
// request did not all come within the read timeout: handing it to the
// goroutine path would start a second timeout there.
func (c *clientConn) timedOut() {
	switch {
	case c.ex.active || c.ended:
	case len(c.in) > 0:
		kind := metrics.ClientHead
		if c.awaitingBody {
			kind = metrics.ClientBody
		}
		c.refuse(kind, fasthttp.StatusRequestTimeout, errorBody(fasthttp.StatusRequestTimeout))
	default:
		c.close()
	}
}

func (c *clientConn) read() {
	buf := c.st.loop.Buffer()
	n, err := eventloop.Read(c.fd, buf)
	switch {
	case err == unix.EAGAIN:
		return
	case n == 0 && err == nil && len(c.in) > 0:
		// The end of the stream in the middle of a head: the goroutine
		// path answers that as it always has.
		c.demote(c.in)
		return
	case err != nil || n == 0:
		c.close()
		return
	}
	c.bytes.read(int64(n))
	if len(c.in) > 0 {
		c.in = append(c.in, buf[:n]...)
		c.process(c.in)
	} else {
		c.process(buf[:n])
	}
}

// process takes the requests in data, one at a time, and keeps what is
// left for later.
func (c *clientConn) process(data []byte) {
	for len(data) > 0 && !c.ex.active && !c.ended && !c.closing {
		n := c.request(data)
		if n == 0 {
			break
		}
		data = data[n:]
	}
	if c.ended {
		return
	}
	c.in = append(c.in[:0], data...) // data may be a suffix of c.in: append moves it
	if !c.ex.active {
		c.armRead()
	}
	c.update()
}

// request parses the head at the start of data and, if the loop takes
// it, starts its exchange. It returns the bytes used: 0 when the head is
// incomplete, or when the connection was handed back to Go.
func (c *clientConn) request(data []byte) int {
	st := c.st
	o := &c.h.dp.opts
	ctx := &st.ctx
	ctx.Request.Reset()
	st.addr.r = c.raddr
	st.feed = feed{b: data}
	st.br.Reset(&st.feed)
	hdr := &ctx.Request.Header
	err := hdr.Read(st.br)
	c.awaitingBody = false
	if errors.Is(err, errWouldBlock) && len(data) < o.MaxHeaderBytes {
		if bareLF(data) {
			// fasthttp would wait for a CRLF that is not coming.
			c.refuse(metrics.ClientHead, fasthttp.StatusBadRequest, "turnout: malformed request head: a line ends in LF without CR\n")
		}
		return 0
	}
	if err != nil {
		c.demote(data) // fasthttp answers it: 400, 431
		return 0
	}
	headLen := st.feed.pos - st.br.Buffered()
	// A request without Content-Length or Transfer-Encoding has no body
	// (-2, RFC 9112 6.3). A small body of known length is taken whole,
	// then sent with the head; bigger or chunked bodies go to the
	// goroutine path, which streams them, and so does HTTP/1.0, which
	// cannot read the chunked responses forwarded here as they come.
	body := 0
	switch cl := hdr.ContentLength(); {
	case cl == 0 || cl == -2:
	case cl > 0 && cl <= bufferUpTo:
		body = cl
	default:
		c.demote(data)
		return 0
	}
	if !hdr.IsHTTP11() || hdr.ConnectionUpgrade() || len(hdr.PeekBytes(headerExpect)) > 0 || hdr.IsConnect() {
		c.demote(data)
		return 0
	}
	if len(data) < headLen+body {
		c.awaitingBody = true
		return 0 // the rest of the body is on its way (within the read timeout)
	}
	g := c.h.dp.table.Load().Gateway(c.h.port)
	if g == nil {
		c.demote(data)
		return 0
	}
	d, hs, cookie, reject := c.h.route(ctx, g)
	if reject != routed || d.Route.Mirror != nil {
		// Refused (the goroutine path answers), or mirrored (the copy is
		// made there).
		c.demote(data)
		return 0
	}
	ex := &c.ex
	*ex = exchange{c: c, g: g, r: d.Route, d: d, head: ex.head[:0], start: time.Now(), gen: ex.gen + 1, active: true}
	ex.isHead = hdr.IsHead()
	ex.idempotent = hdr.IsGet() || ex.isHead || hdr.IsOptions() || hdr.IsPut() || hdr.IsDelete()
	ex.clientClose = hdr.ConnectionClose()
	if st.access != nil {
		// ctx serves the loop's next request long before this one ends.
		ex.method, ex.uri = string(hdr.Method()), string(hdr.RequestURI())
		ex.host, ex.userAgent, ex.bytesIn = string(hdr.Host()), string(hdr.UserAgent()), int64(body)
	}
	prepare(ctx, g, d, cookie, hs)
	if st.access != nil {
		ex.id = requestID(hdr)
	}
	uri := ctx.Request.URI()
	uri.DisablePathNormalizing = true
	hdr.SetRequestURIBytes(uri.RequestURI())
	ex.head = hdr.AppendBytes(ex.head)
	ex.head = append(ex.head, data[headLen:headLen+body]...)
	c.first, c.reading = false, false
	c.timer.Stop()
	c.ex.begin()
	return headLen + body
}

var headerExpect = []byte("Expect")

// demote hands the connection back to Go with data, which no response
// has used yet.
func (c *clientConn) demote(data []byte) {
	c.end(loopResult{demote: true, fd: c.fd, pending: append([]byte(nil), data...)})
}

// drain closes the connection now if it is idle, else after the response
// in flight.
func (c *clientConn) drain() {
	if c.ended {
		return
	}
	if !c.ex.active && len(c.in) == 0 && len(c.out) == 0 {
		c.close()
		return
	}
	c.closing = true
	c.update()
}

// send writes b to the client; what the socket does not take waits in
// out, and the endpoint is not read from until it is written.
func (c *clientConn) send(b []byte) bool {
	if c.ended {
		return false
	}
	if len(c.out) > 0 {
		c.out = append(c.out, b...)
		return true
	}
	w, err := eventloop.Write(c.fd, b)
	if err != nil {
		c.close()
		return false
	}
	c.bytes.wrote(int64(w))
	if w < len(b) {
		c.outBuf = eventloop.GetBuffer()
		c.out = append((*c.outBuf)[:0], b[w:]...)
		c.update()
		if c.ex.active && c.ex.up != nil {
			c.ex.up.update() // stop reading the endpoint until the client catches up
		}
	}
	return true
}

func (c *clientConn) flush() {
	w, err := eventloop.Write(c.fd, c.out)
	if err != nil {
		c.close()
		return
	}
	c.bytes.wrote(int64(w))
	c.out = c.out[w:]
	if len(c.out) > 0 {
		return
	}
	eventloop.PutBuffer(c.outBuf)
	c.out, c.outBuf = nil, nil
	if c.ex.active {
		if up := c.ex.up; up != nil {
			up.update() // reading the endpoint resumes
		}
		c.update()
		return
	}
	c.idle()
}

// idle follows a finished exchange: close if asked to, else take the next
// request already read, or wait for one.
func (c *clientConn) idle() {
	if c.closing {
		c.close()
		return
	}
	if len(c.in) > 0 {
		c.process(c.in)
		return
	}
	c.armRead()
	c.update()
}

func (c *clientConn) close() {
	if c.ended {
		return
	}
	if c.ex.active {
		c.ex.abandon()
	}
	unix.Close(c.fd)
	c.end(loopResult{})
}

// end takes the connection off the loop (its descriptor is closed, or
// handed back) and tells serveOnLoop.
func (c *clientConn) end(res loopResult) {
	c.ended = true
	if c.interest != 0 {
		c.st.loop.Unregister(c.fd)
		c.interest = 0
	}
	c.timer.Stop()
	if c.outBuf != nil {
		eventloop.PutBuffer(c.outBuf)
		c.out, c.outBuf = nil, nil
	}
	c.st.loop.Disown(c)
	c.done <- res
}

// refuse answers a request the client got wrong, counted as its error,
// and closes.
func (c *clientConn) refuse(kind, status int, body string) {
	if g := c.h.dp.table.Load().Gateway(c.h.port); g != nil {
		clientError(g, kind)
	}
	c.answer(status, body)
}

// fail answers a request the loop could not get answered, and closes.
func (c *clientConn) fail(status int) { c.answer(status, errorBody(status)) }

// answer sends a response of the gateway's own and closes.
func (c *clientConn) answer(status int, body string) {
	var b []byte
	b = append(b, "HTTP/1.1 "...)
	b = fasthttp.AppendUint(b, status)
	b = append(b, ' ')
	b = append(b, fasthttp.StatusMessage(status)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = fasthttp.AppendUint(b, len(body))
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, body...)
	c.closing = true
	if c.send(b) && len(c.out) == 0 {
		c.close()
	}
}
