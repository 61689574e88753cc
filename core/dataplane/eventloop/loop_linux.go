package eventloop

import (
	"container/heap"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Events a handler can wait for.
const (
	Readable = unix.EPOLLIN
	Writable = unix.EPOLLOUT
	// Hangup and Error are reported whatever a handler waits for.
	Hangup = unix.EPOLLHUP | unix.EPOLLRDHUP
	Error  = unix.EPOLLERR
)

// Handler is a socket's owner on a loop. Its methods run on the loop's
// goroutine, one at a time.
type Handler interface {
	// Event reports what happened to the socket (Readable, Writable,
	// Hangup, Error bits).
	Event(events uint32)
	// Stop ends the handler's work because the loop is stopping; it must
	// close its sockets.
	Stop(err error)
}

// Group is a set of loops that takes work round-robin.
type Group struct {
	loops   []*Loop
	next    atomic.Uint32
	procs   int // Ps added to GOMAXPROCS for the loops (procs.go)
	release sync.Once
}

// NewGroup starts n loops (n <= 0: one per P the program has, Procs) and
// adds a P per loop to GOMAXPROCS until Close.
func NewGroup(n int) (*Group, error) {
	n = reserveProcs(n)
	g := &Group{procs: n}
	for range n {
		l, err := New()
		if err != nil {
			g.Close()
			return nil, err
		}
		g.loops = append(g.loops, l)
	}
	return g, nil
}

// Loops are the group's loops.
func (g *Group) Loops() []*Loop { return g.loops }

// Next returns the loop whose turn it is.
func (g *Group) Next() *Loop { return g.loops[g.next.Add(1)%uint32(len(g.loops))] }

// Close stops every loop, waits for them and gives their Ps back.
func (g *Group) Close() {
	for _, l := range g.loops {
		l.Close()
	}
	g.release.Do(func() { releaseProcs(g.procs) })
}

// Loop is one event loop. Register, Modify, Unregister, Buffer and After
// must be called on the loop (from a handler, a timer or a task); Submit
// and Close from anywhere.
type Loop struct {
	epfd, evfd int
	buf        []byte
	handlers   []Handler // by descriptor
	owned      map[Handler]struct{}
	timers     timerHeap
	stopping   bool
	stopped    chan struct{}

	mu     sync.Mutex
	tasks  []func()
	closed bool
}

// New starts a loop.
func New() (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventloop: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventloop: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("eventloop: epoll_ctl: %w", err)
	}
	l := &Loop{epfd: epfd, evfd: evfd, buf: make([]byte, BufferSize), owned: map[Handler]struct{}{}, stopped: make(chan struct{})}
	go l.run()
	return l, nil
}

// Buffer is the loop's read buffer, shared by its handlers: its content is
// only valid until the handler returns.
func (l *Loop) Buffer() []byte { return l.buf }

// Own records h as a handler to stop when the loop stops, whether or not
// it has a socket registered right now.
func (l *Loop) Own(h Handler) { l.owned[h] = struct{}{} }

// Disown forgets h (it has closed its sockets).
func (l *Loop) Disown(h Handler) { delete(l.owned, h) }

// Register starts watching fd for events on behalf of h.
func (l *Loop) Register(fd int, h Handler, events uint32) error {
	for fd >= len(l.handlers) {
		l.handlers = append(l.handlers, make([]Handler, len(l.handlers)+64)...)
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("eventloop: epoll_ctl add: %w", err)
	}
	l.handlers[fd] = h
	return nil
}

// Modify changes what fd is watched for.
func (l *Loop) Modify(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return fmt.Errorf("eventloop: epoll_ctl mod: %w", err)
	}
	return nil
}

// Unregister stops watching fd; events already collected for it in this
// round are dropped.
func (l *Loop) Unregister(fd int) {
	if fd < len(l.handlers) && l.handlers[fd] != nil {
		l.handlers[fd] = nil
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
}

// Submit queues f to run on the loop and wakes it; false once the loop
// has stopped (f will never run).
func (l *Loop) Submit(f func()) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, f)
	first := len(l.tasks) == 1
	l.mu.Unlock()
	if first {
		one := [8]byte{1}
		unix.Write(l.evfd, one[:])
	}
	return true
}

// Close stops the loop: handlers it owns are stopped with ErrClosed. It
// waits until the loop's goroutine has ended.
func (l *Loop) Close() {
	l.Submit(func() { l.stop(ErrClosed) })
	<-l.stopped
}

// runTasks runs what was submitted. The eventfd is read before the queue
// is taken, so a task queued after the take wakes the loop again.
func (l *Loop) runTasks() {
	var b [8]byte
	unix.Read(l.evfd, b[:])
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, f := range tasks {
		f()
	}
}

func (l *Loop) run() {
	defer close(l.stopped)
	var events [128]unix.EpollEvent
	for !l.stopping {
		// A busy loop waits keeping its P; one idle for rawWaitMillis
		// waits as an ordinary system call (procs.go).
		wait := l.timers.waitMillis()
		raw := rawWait(wait)
		n, err := poll(l.epfd, events[:], raw)
		if err == nil && n == 0 && raw != wait {
			if wait > 0 {
				wait -= raw
			}
			n, err = unix.EpollWait(l.epfd, events[:], wait)
		}
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// Not expected with a valid epoll descriptor: stop everything
			// rather than spin.
			l.stop(fmt.Errorf("eventloop: epoll_wait: %w", err))
			return
		}
		for i := range n {
			fd := int(events[i].Fd)
			if fd == l.evfd {
				l.runTasks()
				continue
			}
			if fd < len(l.handlers) {
				if h := l.handlers[fd]; h != nil {
					h.Event(events[i].Events)
				}
			}
		}
		if len(l.timers) > 0 {
			l.timers.fire(time.Now())
		}
	}
}

func (l *Loop) stop(err error) {
	l.mu.Lock()
	l.closed = true
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	// Work queued but never started still owns its sockets.
	for _, f := range tasks {
		f()
	}
	for h := range l.owned {
		h.Stop(err)
	}
	l.owned = nil
	unix.Close(l.epfd)
	unix.Close(l.evfd)
	l.stopping = true
}

// Timer is a function to run on the loop at a time. Its deadline can move
// without touching the heap: a timer that fires early re-arms itself.
type Timer struct {
	f      func()
	at     int64 // wanted deadline (unix nanoseconds); 0: stopped
	queued int64 // deadline of its heap entry; 0: not in the heap
}

// NewTimer returns a stopped timer that runs f on l.
func NewTimer(f func()) *Timer { return &Timer{f: f} }

// Reset arms t to fire d from now.
func (l *Loop) Reset(t *Timer, d time.Duration) {
	t.at = time.Now().Add(d).UnixNano()
	if t.queued == 0 || t.at < t.queued {
		t.queued = t.at
		heap.Push(&l.timers, timerEntry{t: t, at: t.at})
	}
}

// Stop disarms t.
func (t *Timer) Stop() { t.at = 0 }

type timerEntry struct {
	t  *Timer
	at int64
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// waitMillis is how long epoll_wait may sleep: until the first timer.
func (h timerHeap) waitMillis() int {
	if len(h) == 0 {
		return -1
	}
	d := h[0].at - time.Now().UnixNano()
	if d <= 0 {
		return 0
	}
	return int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

// fire runs the timers that are due; an entry whose timer moved later is
// put back at the new deadline, one that was stopped or re-queued earlier
// is dropped.
func (h *timerHeap) fire(now time.Time) {
	ns := now.UnixNano()
	for len(*h) > 0 && (*h)[0].at <= ns {
		e := heap.Pop(h).(timerEntry)
		t := e.t
		if t.queued != e.at {
			continue // a stale entry: the timer has an earlier one
		}
		t.queued = 0
		switch {
		case t.at == 0:
		case t.at > ns:
			t.queued = t.at
			heap.Push(h, timerEntry{t: t, at: t.at})
		default:
			t.at = 0
			t.f()
		}
	}
}
