package eventloop

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read and Write are recv(2) and send(2) on a non-blocking stream socket:
// the socket calls skip the file layer that read(2) and write(2) cross
// (vfs_read, vfs_write and fdget_pos took 6 % of the TCP gateway's CPU in
// perf), and MSG_NOSIGNAL turns a write to a closed peer into EPIPE
// without a SIGPIPE for the runtime to field. They
// cannot block, so they skip the runtime's system-call bookkeeping, as
// Go's netpoller does for its own non-blocking epoll_wait: the loop keeps
// its P, and no other thread is woken to take it over while the kernel
// delivers a write on loopback (which wakes the receiver inside the call).
// Read returns unix.EAGAIN when there is nothing to read now (EINTR
// included); Write returns 0 and no error when the socket takes nothing now.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	switch e {
	case 0:
	case unix.EINTR:
		return 0, unix.EAGAIN // the loop comes back to it
	default:
		return 0, e
	}
	return int(n), nil
}

// Write: see Read.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
	switch e {
	case 0:
		return int(n), nil
	case unix.EAGAIN, unix.EINTR:
		return 0, nil
	}
	return 0, e
}

// poll is epoll_wait for up to msec milliseconds, skipping the runtime's
// bookkeeping too: the loop keeps its P while it waits (procs.go).
func poll(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
