//go:build linux

package eventloop

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// on runs f on l and waits for it.
func on(t *testing.T, l *Loop, f func()) {
	t.Helper()
	done := make(chan struct{})
	if !l.Submit(func() { f(); close(done) }) {
		t.Fatal("Submit refused by a running loop")
	}
	<-done
}

func newLoop(t *testing.T) *Loop {
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// Timers fire in deadline order; one moved later fires at its new time,
// one moved earlier at its earlier time, a stopped one never.
func TestTimers(t *testing.T) {
	l := newLoop(t)
	fired := make(chan string, 4)
	var later, earlier, stopped, plain *Timer
	on(t, l, func() {
		plain = NewTimer(func() { fired <- "plain" })
		later = NewTimer(func() { fired <- "later" })
		earlier = NewTimer(func() { fired <- "earlier" })
		stopped = NewTimer(func() { fired <- "stopped" })
		l.Reset(plain, 60*time.Millisecond)
		l.Reset(later, 10*time.Millisecond)
		l.Reset(later, 120*time.Millisecond) // moved later: no heap change
		l.Reset(earlier, time.Hour)
		l.Reset(earlier, 20*time.Millisecond) // moved earlier: a new entry
		l.Reset(stopped, 30*time.Millisecond)
		stopped.Stop()
	})
	var order []string
	for range 3 {
		select {
		case s := <-fired:
			order = append(order, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("timers fired %v, then nothing", order)
		}
	}
	if want := []string{"earlier", "plain", "later"}; order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Fatalf("fired %v, want %v", order, want)
	}
	// The earlier timer's first (one hour) entry is stale: it must not fire.
	on(t, l, func() {
		if len(l.timers) != 1 || l.timers[0].t != earlier {
			t.Errorf("heap holds %d entries, want only the stale one of earlier", len(l.timers))
		}
	})
}

type stopRecorder struct{ err chan error }

func (s *stopRecorder) Event(uint32)   {}
func (s *stopRecorder) Stop(err error) { s.err <- err }

// Close stops owned handlers with ErrClosed; tasks are refused after it.
func TestCloseStopsOwnedHandlers(t *testing.T) {
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	h := &stopRecorder{err: make(chan error, 1)}
	on(t, l, func() { l.Own(h) })
	l.Close()
	if err := <-h.err; !errors.Is(err, ErrClosed) {
		t.Fatalf("Stop(%v), want ErrClosed", err)
	}
	if l.Submit(func() {}) {
		t.Fatal("Submit accepted after Close")
	}
}

// A group adds a P per loop to GOMAXPROCS and gives them back on Close,
// and counts them out of Procs, so a second group is no bigger.
func TestGroupReservesProcs(t *testing.T) {
	before, base := runtime.GOMAXPROCS(0), Procs()
	g, err := NewGroup(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(g.Loops()); got != base {
		t.Errorf("NewGroup(0) started %d loops, want Procs() = %d", got, base)
	}
	if got := runtime.GOMAXPROCS(0); got != before+base {
		t.Errorf("GOMAXPROCS with the group running = %d, want %d", got, before+base)
	}
	if got := Procs(); got != base {
		t.Errorf("Procs() with the group running = %d, want %d", got, base)
	}
	g2, err := NewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	g2.Close()
	g.Close()
	g.Close() // a second Close gives nothing back twice
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after Close = %d, want %d", got, before)
	}
}

// Loops waiting in epoll_wait hold their Ps: the garbage collector must
// still stop them (its signal interrupts the wait), and a goroutine that
// a loop starts, which Go queues on the loop's own P, must still run.
func TestWaitingLoopsLetTheProgramRun(t *testing.T) {
	g, err := NewGroup(0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	gcDone := make(chan struct{})
	go func() { runtime.GC(); close(gcDone) }()
	waitFor(t, gcDone, "runtime.GC with every loop waiting")
	for i, l := range g.Loops() {
		ran := make(chan struct{})
		on(t, l, func() { go close(ran) })
		waitFor(t, ran, fmt.Sprintf("a goroutine started on loop %d", i))
	}
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not finish within 10s", what)
	}
}
