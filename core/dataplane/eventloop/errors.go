package eventloop

import "errors"

// ErrClosed is what handlers are stopped with when their loop stops.
var ErrClosed = errors.New("eventloop: closed")
