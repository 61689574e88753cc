package dataplane

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/turnout/turnout/core/gateway"
)

// tcpServer proxies the connections of a /tcp gateway port: each
// connection picks a route by weight and an endpoint by the route's
// balance (least connections by default), then bytes flow both ways.
type tcpServer struct {
	dp    *DataPlane
	port  int
	conns connSet
}

func (s *tcpServer) protocol() string { return string(gateway.TCP) }

func (s *tcpServer) serve(c net.Conn) {
	go s.handle(s.dp.track(c, s.port, &s.conns))
}

func (s *tcpServer) shutdown(deadline time.Time) { s.conns.wait(deadline) }

func (s *tcpServer) handle(client net.Conn) {
	start := time.Now()
	t := s.dp.table.Load()
	g := t.Gateway(s.port)
	if g == nil {
		client.Close()
		return
	}
	r := g.Weighted()
	if r == nil {
		if g.Metrics != nil {
			g.Metrics.NoRoute.ObserveConn(false, time.Since(start))
		}
		client.Close()
		return
	}
	backend, e := s.dp.dial(r, nil)
	if backend == nil {
		r.Metrics.ObserveConn(false, time.Since(start))
		client.Close()
		return
	}
	e.Begin()
	pipe(client, backend)
	e.End()
	r.Metrics.ObserveConn(true, time.Since(start))
	if al := s.dp.opts.AccessLog; al != nil {
		al.LogAttrs(context.Background(), slog.LevelInfo, "connection",
			slog.String("gateway", g.Name),
			slog.String("route", r.Name),
			slog.String("endpoint", e.Addr),
			slog.String("client", client.RemoteAddr().String()),
			slog.Duration("duration", time.Since(start)),
		)
	}
}

// pipe copies both ways until both directions are done, half-closing
// each side's write end when its source ends, then closes both.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyHalf(b, a)
	}()
	copyHalf(a, b)
	wg.Wait()
	a.Close()
	b.Close()
}

type closeWriter interface{ CloseWrite() error }

func copyHalf(dst, src net.Conn) {
	buf := bufPool.Get().(*[]byte)
	_, err := io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *buf)
	bufPool.Put(buf)
	if cw, ok := dst.(closeWriter); ok && err == nil {
		cw.CloseWrite()
	} else {
		// An error on one side ends the whole tunnel.
		dst.Close()
		src.Close()
	}
}

// writerOnly hides ReadFrom so io.CopyBuffer uses the plain read/write
// loop: for the small messages of typical request/response traffic, one
// read and one write beat splice's pipe round trips (perf-anchors.md).
type writerOnly struct{ io.Writer }

// readerOnly hides WriteTo for the same reason.
type readerOnly struct{ io.Reader }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
