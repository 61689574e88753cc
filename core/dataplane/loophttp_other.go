//go:build !linux

package dataplane

// Without epoll, HTTP connections are served by goroutines only.

type loopHTTP struct{}

type upConn struct{}

type liveConns struct{}

func (liveConns) drain() {}

func (d *DataPlane) loopHTTP() *loopHTTP { return nil }

func (lh *loopHTTP) close() {}

func (h *httpServer) serveOnLoop(lh *loopHTTP, tc *trackedConn) { h.push(tc) }
