//go:build unix

package dataplane

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// peerClosed reports whether an idle connection is no longer fit for a
// request: the endpoint closed or reset it, or sent bytes nobody asked
// for. It peeks without blocking and without the deadline checks of a
// read (an earlier request's deadline may have passed while it idled).
func peerClosed(rc syscall.RawConn) bool {
	closed := false
	err := rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		closed = err != unix.EAGAIN && err != unix.EINTR || n > 0
	})
	return closed || err != nil
}
