package pump

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/turnout/turnout/core/dataplane/eventloop"
)

// Pump runs the event loops. The zero value is not usable; call New.
type Pump struct {
	n      int
	start  sync.Once
	err    error // why the loops could not start: Pipe falls back to Copy
	loops  *eventloop.Group
	closed atomic.Bool
}

// New returns a Pump with n event loops (n <= 0: one per CPU Go may use).
// The loops start with the first Pipe, so a Pump that is never used costs
// nothing.
func New(n int) *Pump { return &Pump{n: n} }

// Pipe takes a and b over and moves bytes both ways between them, passing
// a half-close from one side on as a half-close to the other, until both
// directions have ended or either side fails; then it closes both. It
// returns when that is done, or when abort is closed (ErrAborted) or the
// Pump is (ErrClosed), having closed both then too. The bytes read from
// each side are counted in counts.
//
// The calling goroutine only waits: the bytes are moved by the event
// loops, so it is not woken by the connection's traffic.
func (p *Pump) Pipe(a, b *net.TCPConn, abort <-chan struct{}, counts Counts) error {
	if p.closed.Load() {
		a.Close()
		b.Close()
		return ErrClosed
	}
	p.start.Do(func() { p.loops, p.err = eventloop.NewGroup(p.n) })
	if p.err != nil {
		return copyAbortable(a, b, abort, counts)
	}
	fa, err := TakeFD(a)
	if err != nil {
		return copyAbortable(a, b, abort, counts)
	}
	fb, err := TakeFD(b)
	if err != nil {
		unix.Close(fa)
		return copyAbortable(a, b, abort, counts)
	}
	// Go's netpoller lets go of its own descriptors; the loop owns the
	// duplicates from here on.
	a.Close()
	b.Close()

	l := p.loops.Next()
	pr := &pair{loop: l, done: make(chan error, 1)}
	pr.a = sock{fd: fa, pair: pr, peer: &pr.b, counted: counts.FromA}
	pr.b = sock{fd: fb, pair: pr, peer: &pr.a, counted: counts.FromB}
	if !l.Submit(pr.add) {
		unix.Close(fa)
		unix.Close(fb)
		return ErrClosed
	}
	select {
	case err := <-pr.done:
		return err
	case <-abort:
		l.Submit(func() { pr.finish(ErrAborted) })
		return <-pr.done
	}
}

// Close ends every pair (their Pipe returns ErrClosed) and stops the loops.
func (p *Pump) Close() error {
	p.closed.Store(true)
	p.start.Do(func() { p.err = ErrClosed })
	if p.loops != nil {
		p.loops.Close()
	}
	return nil
}

// TakeFD duplicates c's socket (close-on-exec, and non-blocking like every
// socket of Go's) so that it outlives c.Close.
func TakeFD(c *net.TCPConn) (int, error) {
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
	loop  *eventloop.Loop
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
	interest uint32  // events registered with the loop; 0: not registered
	counted  Counter // counts the bytes read from fd
}

func (s *sock) wantRead() bool { return !s.eof && len(s.peer.out) == 0 }

func (pr *pair) add() {
	pr.loop.Own(pr)
	pr.a.update()
	pr.b.update()
}

// Event and Stop make the pair the loop's handler of record (Own); the
// sockets handle their own events.
func (pr *pair) Event(uint32)   {}
func (pr *pair) Stop(err error) { pr.finish(err) }

func (s *sock) Stop(err error) { s.pair.finish(err) }

func (s *sock) Event(ev uint32) {
	if ev&(eventloop.Writable|eventloop.Error|eventloop.Hangup) != 0 && len(s.out) > 0 {
		s.flush()
		if s.pair.ended {
			return
		}
	}
	if ev&(eventloop.Readable|eventloop.Error|eventloop.Hangup) != 0 && s.wantRead() {
		s.read()
	}
}

// read takes what s has and sends it to the peer.
func (s *sock) read() {
	buf := s.pair.loop.Buffer()
	n, err := eventloop.Read(s.fd, buf)
	switch {
	case err == unix.EAGAIN:
		return
	case err != nil:
		s.pair.finish(err)
		return
	case n == 0:
		s.eof = true
		if len(s.peer.out) == 0 {
			s.peer.shutWrite()
		}
		s.update()
		s.pair.endIfDone()
		return
	}
	count(s.counted, n)
	dst := s.peer
	w, err := eventloop.Write(dst.fd, buf[:n])
	if err != nil {
		s.pair.finish(err)
		return
	}
	if w < n {
		dst.outBuf = eventloop.GetBuffer()
		dst.out = append((*dst.outBuf)[:0], buf[w:n]...)
		dst.update()
		s.update()
	}
}

// flush writes what waits for s; once all is written, reading from its
// peer resumes (or, if the peer has ended, s's write side is shut).
func (s *sock) flush() {
	w, err := eventloop.Write(s.fd, s.out)
	if err != nil {
		s.pair.finish(err)
		return
	}
	s.out = s.out[w:]
	if len(s.out) > 0 {
		return
	}
	eventloop.PutBuffer(s.outBuf)
	s.out, s.outBuf = nil, nil
	if s.peer.eof {
		s.shutWrite()
	}
	s.update()
	s.peer.update()
	s.pair.endIfDone()
}

func (s *sock) shutWrite() {
	if !s.shut {
		s.shut = true
		unix.Shutdown(s.fd, unix.SHUT_WR)
	}
}

// update registers the events s waits for now: readable while its bytes
// have somewhere to go, writable while bytes wait for it. A socket that
// waits for nothing leaves the epoll set, so a hang-up it cannot act on
// yet does not wake the loop again and again.
func (s *sock) update() {
	var want uint32
	if s.wantRead() {
		want |= eventloop.Readable
	}
	if len(s.out) > 0 {
		want |= eventloop.Writable
	}
	if want == s.interest || s.pair.ended {
		return
	}
	l := s.pair.loop
	var err error
	switch {
	case s.interest == 0:
		err = l.Register(s.fd, s, want)
	case want == 0:
		l.Unregister(s.fd)
	default:
		err = l.Modify(s.fd, want)
	}
	if err != nil {
		s.pair.finish(err)
		return
	}
	s.interest = want
}

func (pr *pair) endIfDone() {
	if pr.a.eof && pr.b.eof && pr.a.shut && pr.b.shut {
		pr.finish(nil)
	}
}

// finish closes both sockets and reports err to Pipe.
func (pr *pair) finish(err error) {
	if pr.ended {
		return
	}
	pr.ended = true
	for _, s := range []*sock{&pr.a, &pr.b} {
		if s.interest != 0 {
			pr.loop.Unregister(s.fd)
		}
		unix.Close(s.fd)
		if s.outBuf != nil {
			eventloop.PutBuffer(s.outBuf)
			s.out, s.outBuf = nil, nil
		}
	}
	pr.loop.Disown(pr)
	pr.done <- err
}
