package dataplane

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/turnout/turnout/core/dataplane/pump"
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
			g.Metrics.UnroutedConn()
		}
		client.Close()
		return
	}
	backend, e, tried := s.dp.dial(r, nil)
	if backend == nil {
		r.Metrics.ObserveConn(false, time.Since(start))
		client.Close()
		return
	}
	e.Latency.Observe(time.Since(tried).Seconds()) // a TCP endpoint answers by accepting
	e.Begin()
	s.pipe(client, backend)
	e.End()
	r.Metrics.ObserveConn(true, time.Since(start))
	if al := s.dp.opts.AccessLog; al != nil {
		al.LogAttrs(context.Background(), slog.LevelInfo, "connection",
			slog.String("gateway", g.Name),
			slog.String("route", r.Name),
			slog.String("endpoint", e.Addr),
			slog.String("client", client.RemoteAddr().String()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		)
	}
}

// pipe hands both sockets to the data plane's pump and waits until the
// connection is over. Closing client (shutdown's stragglers) aborts it.
func (s *tcpServer) pipe(client, backend net.Conn) {
	tc, ok := client.(*trackedConn)
	bc, bok := backend.(*net.TCPConn)
	if !ok || !bok {
		pump.Copy(client, backend)
		return
	}
	s.dp.pump.Pipe(tc.TCPConn, bc, tc.closed, pump.Counts{FromA: tc.bytes.received, FromB: tc.bytes.sent})
	client.Close() // the pump closed the socket; this settles the tracking
}
