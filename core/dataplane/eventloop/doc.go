// Package eventloop runs epoll event loops for the data plane: each loop
// is one goroutine that waits for its sockets, runs their handlers, its
// timers and the tasks other goroutines hand it. Proxying on a loop costs
// one read and one write per message, without the EAGAIN read and the
// goroutine wake-up of a connection served by its own goroutine
// (docs/performance-analysis.md). The loops are Linux only; elsewhere the
// package has only its buffer pool, and the data plane serves connections
// with goroutines.
package eventloop

import "errors"

// ErrClosed is what handlers are stopped with when their loop stops.
var ErrClosed = errors.New("eventloop: closed")
