// Package testnet has the helpers every network test of Turnout needs:
// free ports and small named backends on 127.0.0.1, and polling with a
// deadline instead of sleeping.
package testnet

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// handedOut are the ports FreePort gave in this process.
var handedOut sync.Map

// FreePort returns a port that was free on 127.0.0.1 a moment ago, and
// that it never gave before, in this process or in another test process
// still running: the kernel may hand out a closed port again, and two
// gateways given the same port would collide (in one test, or in the test
// binaries `go test ./...` runs side by side: a task restarted on its port
// found another package's turnout there).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if _, given := handedOut.LoadOrStore(p, true); !given && claim(p) {
			return p
		}
	}
	t.Fatal("no port found that was not given before")
	return 0
}

// claimDir holds one file per port a test process was given, naming the
// process; a port whose process has ended can be claimed again.
var claimDir = filepath.Join(os.TempDir(), "turnout-test-ports")

// claim records port p as this process's, unless a live process has it.
func claim(p int) bool {
	if err := os.MkdirAll(claimDir, 0o777); err != nil {
		return true // no record to keep: this process's own check stands
	}
	file := filepath.Join(claimDir, strconv.Itoa(p))
	// Written aside and linked into place, so that no one reads a claim
	// half written: link fails if the name exists.
	tmp := file + "." + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o666); err != nil {
		return true
	}
	defer os.Remove(tmp)
	for range 2 {
		err := os.Link(tmp, file)
		if err == nil {
			return true
		}
		if !errors.Is(err, fs.ErrExist) {
			return true
		}
		owner, rerr := os.ReadFile(file)
		n, perr := strconv.Atoi(string(owner))
		if rerr == nil && perr == nil && alive(n) {
			return false
		}
		// The owner has ended: take the port over.
		os.Remove(file)
	}
	return false
}

// alive reports whether process pid runs (signal 0 checks without
// sending anything).
func alive(pid int) bool {
	proc, err := os.FindProcess(pid)
	return err == nil && proc.Signal(syscall.Signal(0)) == nil
}

// FreePorts returns the first of n consecutive ports that were all free
// on 127.0.0.1 a moment ago (for tests of port ranges).
func FreePorts(t testing.TB, n int) int {
	t.Helper()
	for range 50 {
		lo := FreePort(t)
		var held []net.Listener
		for p := lo; p < lo+n; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				break
			}
			held = append(held, ln)
		}
		for _, ln := range held {
			ln.Close()
		}
		if len(held) == n {
			return lo
		}
	}
	t.Fatalf("no %d consecutive free ports found", n)
	return 0
}

// Backend starts an HTTP server on 127.0.0.1 that answers every request
// with its name, as the body and in X-Backend, and returns its address.
// It stops when the test ends.
func Backend(t testing.TB, name string) string {
	t.Helper()
	return HandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	}))
}

// HandlerBackend serves h on 127.0.0.1 until the test ends, and returns
// its address.
func HandlerBackend(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// Eventually polls ok every 20ms until it holds, failing the test after within.
func Eventually(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Buffer collects what a process or logger writes, safe for the writer and
// the test to use at once.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
