//go:build !unix

package dataplane

import "syscall"

// peerClosed cannot peek here: a closed connection shows when it is used,
// and do sends the request again.
func peerClosed(syscall.RawConn) bool { return false }
