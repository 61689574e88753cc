package store

import (
	"net"
	"testing"
	"time"
)

// The client's own deadlines (a connect request's answer: ten receive
// timeouts) are cut to one session timeout; shorter ones and "no deadline"
// pass as they are.
func TestBoundedConnDeadlines(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	const session = 10 * time.Second
	c := boundedConn{Conn: c1, max: session}
	now := time.Now()
	for _, tc := range []struct {
		name string
		in   time.Time
		max  time.Duration // the result is at most now + max; 0: equal to in
	}{
		{"zero", time.Time{}, 0},
		{"receive timeout", now.Add(session * 2 / 3), 0},
		{"connect answer", now.Add(session * 2 / 3 * 10), session + time.Second},
	} {
		got := c.bound(tc.in)
		if tc.max == 0 && !got.Equal(tc.in) {
			t.Errorf("%s: %v became %v", tc.name, tc.in, got)
		}
		if tc.max > 0 && got.After(now.Add(tc.max)) {
			t.Errorf("%s: %v is not cut to a session timeout: %v", tc.name, tc.in, got)
		}
	}
	// The bound is applied: a read on the pipe times out at it.
	c.max = 10 * time.Millisecond
	c.SetReadDeadline(time.Now().Add(time.Hour))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a read with nothing to read returned")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read: %v, want a timeout", err)
	}
}
