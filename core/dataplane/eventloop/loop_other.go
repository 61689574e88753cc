//go:build !linux

package eventloop

import "errors"

// ErrUnsupported is returned where there is no epoll.
var ErrUnsupported = errors.New("eventloop: not supported on this system")
