package eventloop

import (
	"runtime"
	"sync"
)

// A busy loop waits in epoll_wait without leaving the Go runtime's books
// (a raw system call), so it keeps its P while it waits. Handing the P
// back, as an ordinary system call does, cost more than the proxying
// itself: with every P taken by a loop, sysmon retook the P of a loop
// blocked for over 20 µs, woke every 20 µs to do so (6,000 context
// switches a second in the TCP benchmark), and the loop queued for a P
// again when its events came. So each group of loops adds one P per loop
// to GOMAXPROCS for as long as it runs, and other goroutines keep the Ps
// they had. A loop still stops for the garbage collector: its signal
// interrupts epoll_wait (EINTR), and without signals
// (GODEBUG=asyncpreemptoff=1) the wait that keeps the P ends within
// rawWaitMillis anyway.
var extraProcs struct {
	sync.Mutex
	n int // Ps added by the groups running now
}

// Procs is the number of Ps the rest of the program has: GOMAXPROCS less
// what running loops added. It is the default number of loops in a group.
func Procs() int {
	extraProcs.Lock()
	defer extraProcs.Unlock()
	return runtime.GOMAXPROCS(0) - extraProcs.n
}

// reserveProcs adds n Ps for n loops (n <= 0: Procs() of them) and returns
// how many were added.
func reserveProcs(n int) int {
	extraProcs.Lock()
	defer extraProcs.Unlock()
	cur := runtime.GOMAXPROCS(0)
	if n <= 0 {
		n = cur - extraProcs.n
	}
	extraProcs.n += n
	runtime.GOMAXPROCS(cur + n)
	return n
}

// releaseProcs gives back n Ps added by reserveProcs.
func releaseProcs(n int) {
	extraProcs.Lock()
	defer extraProcs.Unlock()
	extraProcs.n -= n
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0)-n, 1))
}

// rawWaitMillis bounds a loop's wait that keeps its P. Under load events
// come every few microseconds, so the bound only matters to a loop with
// nothing to do: after it, the loop waits as an ordinary system call and
// lets the runtime take its P, instead of being preempted by sysmon every
// 10 ms (which kept an idle gateway at 2 % of a core).
const rawWaitMillis = 2

// rawWait is how long to wait keeping the P when the loop may wait for
// msec milliseconds (-1: no limit).
func rawWait(msec int) int {
	if msec < 0 || msec > rawWaitMillis {
		return rawWaitMillis
	}
	return msec
}
