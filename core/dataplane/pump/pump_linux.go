package pump

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Pump runs the event loops. The zero value is not usable; call New.
type Pump struct {
	n      int
	start  sync.Once
	err    error // why the loops could not start: Pipe falls back to Copy
	loops  []*loop
	next   atomic.Uint32
	closed atomic.Bool
}

// New returns a Pump with n event loops (n <= 0: one per CPU Go may use).
// The loops start with the first Pipe, so a Pump that is never used costs
// nothing.
func New(n int) *Pump {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Pump{n: n}
}

// Pipe takes a and b over and moves bytes both ways between them, passing
// a half-close from one side on as a half-close to the other, until both
// directions have ended or either side fails; then it closes both. It
// returns when that is done, or when abort is closed (ErrAborted) or the
// Pump is (ErrClosed), having closed both then too.
//
// The calling goroutine only waits: the bytes are moved by the event
// loops, so it is not woken by the connection's traffic.
func (p *Pump) Pipe(a, b *net.TCPConn, abort <-chan struct{}) error {
	if p.closed.Load() {
		a.Close()
		b.Close()
		return ErrClosed
	}
	p.start.Do(p.startLoops)
	if p.err != nil {
		return copyAbortable(a, b, abort)
	}
	fa, err := takeFD(a)
	if err != nil {
		return copyAbortable(a, b, abort)
	}
	fb, err := takeFD(b)
	if err != nil {
		unix.Close(fa)
		return copyAbortable(a, b, abort)
	}
	// Go's netpoller lets go of its own descriptors; the loop owns the
	// duplicates from here on.
	a.Close()
	b.Close()

	pr := &pair{done: make(chan error, 1)}
	pr.a = sock{fd: fa, pair: pr, peer: &pr.b}
	pr.b = sock{fd: fb, pair: pr, peer: &pr.a}
	l := p.loops[p.next.Add(1)%uint32(len(p.loops))]
	if !l.submit(func() { l.add(pr) }) {
		unix.Close(fa)
		unix.Close(fb)
		return ErrClosed
	}
	select {
	case err := <-pr.done:
		return err
	case <-abort:
		l.submit(func() { l.finish(pr, ErrAborted) })
		return <-pr.done
	}
}

// Close ends every pair (their Pipe returns ErrClosed) and stops the loops.
func (p *Pump) Close() error {
	p.closed.Store(true)
	p.start.Do(func() { p.err = ErrClosed })
	for _, l := range p.loops {
		l.submit(l.stop)
		<-l.stopped
	}
	return nil
}

func (p *Pump) startLoops() {
	for range p.n {
		l, err := newLoop()
		if err != nil {
			p.err = err
			for _, l := range p.loops {
				l.submit(l.stop)
				<-l.stopped
			}
			p.loops = nil
			return
		}
		p.loops = append(p.loops, l)
		go l.run()
	}
}

// takeFD duplicates c's socket (close-on-exec, and non-blocking like every
// socket of Go's) so it outlives c.Close.
func takeFD(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := rc.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, fmt.Errorf("pump: duplicating socket: %w", err)
	}
	return fd, nil
}

// pair is a proxied connection: two sockets, each the other's peer.
type pair struct {
	a, b  sock
	done  chan error
	ended bool
}

// sock is one socket of a pair. Bytes read from it are written to its
// peer; when the peer cannot take them all, the rest waits in the peer's
// out and reading from this socket stops until it is written.
type sock struct {
	fd       int
	pair     *pair
	peer     *sock
	out      []byte  // bytes for fd not written yet (a view into outBuf)
	outBuf   *[]byte // pooled, held only while out is not empty
	eof      bool    // fd's read side ended
	shut     bool    // fd's write side is shut down
	interest uint32  // events registered with epoll; 0: not registered
}

func (s *sock) wantRead() bool { return !s.eof && len(s.peer.out) == 0 }

// loop is one epoll event loop. Everything but submit runs on its goroutine.
type loop struct {
	epfd, evfd int
	buf        []byte
	socks      []*sock // by descriptor
	pairs      map[*pair]struct{}
	stopping   bool
	stopped    chan struct{}

	mu     sync.Mutex
	tasks  []func()
	closed bool
}

func newLoop() (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pump: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("pump: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("pump: epoll_ctl: %w", err)
	}
	return &loop{epfd: epfd, evfd: evfd, buf: make([]byte, bufSize), pairs: map[*pair]struct{}{}, stopped: make(chan struct{})}, nil
}

// submit queues f to run on the loop and wakes it; false once the loop
// has stopped.
func (l *loop) submit(f func()) bool {
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

// runTasks runs what was submitted. The eventfd is read before the queue
// is taken, so a task queued after the take wakes the loop again.
func (l *loop) runTasks() {
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

func (l *loop) run() {
	defer close(l.stopped)
	var events [128]unix.EpollEvent
	for !l.stopping {
		n, err := unix.EpollWait(l.epfd, events[:], -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// Not expected with a valid epoll descriptor: end every pair
			// rather than spin.
			l.stopWith(fmt.Errorf("pump: epoll_wait: %w", err))
			return
		}
		for i := range n {
			fd := int(events[i].Fd)
			if fd == l.evfd {
				l.runTasks()
				continue
			}
			if fd < len(l.socks) {
				if s := l.socks[fd]; s != nil {
					l.handle(s, events[i].Events)
				}
			}
		}
	}
}

func (l *loop) stop() { l.stopWith(ErrClosed) }

func (l *loop) stopWith(err error) {
	l.mu.Lock()
	l.closed = true
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	// Pairs queued but never added still own their sockets.
	for _, f := range tasks {
		f()
	}
	for pr := range l.pairs {
		l.finish(pr, err)
	}
	unix.Close(l.epfd)
	unix.Close(l.evfd)
	l.stopping = true
}

func (l *loop) add(pr *pair) {
	if l.stopping {
		unix.Close(pr.a.fd)
		unix.Close(pr.b.fd)
		pr.done <- ErrClosed
		return
	}
	l.pairs[pr] = struct{}{}
	for _, s := range []*sock{&pr.a, &pr.b} {
		for s.fd >= len(l.socks) {
			l.socks = append(l.socks, make([]*sock, len(l.socks)+64)...)
		}
		l.socks[s.fd] = s
	}
	l.update(&pr.a)
	l.update(&pr.b)
}

func (l *loop) handle(s *sock, ev uint32) {
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && len(s.out) > 0 {
		l.flush(s)
		if s.pair.ended {
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 && s.wantRead() {
		l.read(s)
	}
}

// read takes what src has and sends it to the peer.
func (l *loop) read(src *sock) {
	n, err := unix.Read(src.fd, l.buf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		l.finish(src.pair, err)
		return
	case n == 0:
		src.eof = true
		if len(src.peer.out) == 0 {
			l.shutWrite(src.peer)
		}
		l.update(src)
		l.endIfDone(src.pair)
		return
	}
	dst := src.peer
	w, err := write(dst.fd, l.buf[:n])
	if err != nil {
		l.finish(src.pair, err)
		return
	}
	if w < n {
		dst.outBuf = bufPool.Get().(*[]byte)
		dst.out = append((*dst.outBuf)[:0], l.buf[w:n]...)
		l.update(dst)
		l.update(src)
	}
}

// flush writes what waits for dst; once all is written, reading from its
// peer resumes (or, if the peer has ended, dst's write side is shut).
func (l *loop) flush(dst *sock) {
	w, err := write(dst.fd, dst.out)
	if err != nil {
		l.finish(dst.pair, err)
		return
	}
	dst.out = dst.out[w:]
	if len(dst.out) > 0 {
		return
	}
	bufPool.Put(dst.outBuf)
	dst.out, dst.outBuf = nil, nil
	if dst.peer.eof {
		l.shutWrite(dst)
	}
	l.update(dst)
	l.update(dst.peer)
	l.endIfDone(dst.pair)
}

// write is one write(2); EAGAIN and EINTR write nothing and are no error.
func write(fd int, b []byte) (int, error) {
	w, err := unix.Write(fd, b)
	if err == unix.EAGAIN || err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return w, nil
}

func (l *loop) shutWrite(s *sock) {
	if !s.shut {
		s.shut = true
		unix.Shutdown(s.fd, unix.SHUT_WR)
	}
}

// update registers the events s waits for now: readable while its bytes
// have somewhere to go, writable while bytes wait for it. A socket that
// waits for nothing leaves the epoll set, so a hang-up it cannot act on
// yet does not wake the loop again and again.
func (l *loop) update(s *sock) {
	var want uint32
	if s.wantRead() {
		want |= unix.EPOLLIN
	}
	if len(s.out) > 0 {
		want |= unix.EPOLLOUT
	}
	if want == s.interest || s.pair.ended {
		return
	}
	op := unix.EPOLL_CTL_MOD
	switch {
	case s.interest == 0:
		op = unix.EPOLL_CTL_ADD
	case want == 0:
		op = unix.EPOLL_CTL_DEL
	}
	ev := unix.EpollEvent{Events: want, Fd: int32(s.fd)}
	if err := unix.EpollCtl(l.epfd, op, s.fd, &ev); err != nil {
		l.finish(s.pair, fmt.Errorf("pump: epoll_ctl: %w", err))
		return
	}
	s.interest = want
}

func (l *loop) endIfDone(pr *pair) {
	if pr.a.eof && pr.b.eof && pr.a.shut && pr.b.shut {
		l.finish(pr, nil)
	}
}

// finish closes both sockets (which also takes them out of the epoll set)
// and reports err to Pipe.
func (l *loop) finish(pr *pair, err error) {
	if pr.ended {
		return
	}
	pr.ended = true
	for _, s := range []*sock{&pr.a, &pr.b} {
		l.socks[s.fd] = nil
		unix.Close(s.fd)
		if s.outBuf != nil {
			bufPool.Put(s.outBuf)
			s.out, s.outBuf = nil, nil
		}
	}
	delete(l.pairs, pr)
	pr.done <- err
}
