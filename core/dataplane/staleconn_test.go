package dataplane_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
)

// Endpoints close keep-alive connections they find idle (Node after 5 s,
// Apache after 5 s, many after 1 s), and nothing tells the gateway but
// the close itself. These tests take the worst moments for it: a backend
// that closes right after each answer, and one that closes when the next
// request arrives. Every form of request must still get its answer from
// the endpoint, never a 502: on the event loops and, in TestGoroutinePath's
// run, on goroutines (where the loops hand every streamed body).

// requestForm is one way a client sends a request.
type requestForm struct {
	name  string
	raw   string // the request; "{{host}}" is replaced
	body  int    // bytes of body the backend must receive
	http1 bool   // HTTP/1.0: the gateway closes the connection after it
}

var bigBody = strings.Repeat("u", 100<<10) // over what the loops keep in memory

func chunked(body string) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(len(body), 4000)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

var requestForms = []requestForm{
	{name: "GET", raw: "GET /get HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "HEAD", raw: "HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "DELETE", raw: "DELETE /items/42 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "POST without body", raw: "POST /empty HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
	{name: "POST small", raw: "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", body: 5},
	{name: "POST 100 KiB", raw: "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(len(bigBody)) + "\r\n\r\n" + bigBody, body: len(bigBody)},
	{name: "POST chunked", raw: "POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("hello"), body: 5},
	{name: "PUT chunked 100 KiB", raw: "PUT /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(bigBody), body: len(bigBody)},
	{name: "POST Expect", raw: "POST /expect HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", body: 5},
	{name: "POST HTTP/1.0", raw: "POST /old HTTP/1.0\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", body: 5, http1: true},
}

// closingBackend answers each request with the number of body bytes it
// received, then closes the connection the way an idle timeout does:
// without a word in the response. closeAfter is how many requests a
// connection serves; onNext closes when the next request starts to
// arrive instead of right after the answer.
type closingBackend struct {
	addr   string
	onNext bool
	closed chan struct{} // one per connection closed by the backend
}

func newClosingBackend(t *testing.T, onNext bool) *closingBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &closingBackend{addr: ln.Addr().String(), onNext: onNext, closed: make(chan struct{}, 1<<16)}
	var wg sync.WaitGroup
	var open sync.Map
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			open.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer open.Delete(c)
				b.serve(c)
			}()
		}
	}()
	return b
}

func (b *closingBackend) serve(c net.Conn) {
	defer func() {
		c.Close()
		b.closed <- struct{}{}
	}()
	// A bound for a hung test, not a timing: a slow client's body
	// (TestReadTimeoutIsIdleTimeForBodies: 4 s of pauses alone) must not
	// outlast it on a loaded machine, where it once did at 5 s.
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	n, err := io.Copy(io.Discard, req.Body)
	if err != nil {
		return
	}
	body := "got " + strconv.FormatInt(n, 10)
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if b.onNext {
		// Keep the connection until the gateway sends on it again, then
		// close with those bytes unread (the kernel answers with a reset).
		c.SetDeadline(time.Now().Add(ioTimeout))
		br.Peek(1)
	}
}

// TestStaleEndpointConnections sends every request form again and again
// through a gateway whose endpoint closes each connection after one
// answer; none may fail.
func TestStaleEndpointConnections(t *testing.T) {
	for _, onNext := range []bool{false, true} {
		name := "closed after the answer"
		if onNext {
			name = "closed as the next request arrives"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			be := newClosingBackend(t, onNext)
			g := startGateway(t, simpleGateway("stale", be.addr, "{timeout: 5s}"), dataplane.Options{}, engine.Options{})
			const rounds = 100
			failed := 0
			for _, f := range requestForms {
				var c net.Conn
				var br *bufio.Reader
				for i := range rounds {
					if c == nil {
						c = dial(t, g.addr)
						br = bufio.NewReader(c)
					}
					c.SetDeadline(time.Now().Add(ioTimeout))
					if _, err := io.WriteString(c, f.raw); err != nil {
						t.Fatalf("%s, round %d: write: %v", f.name, i, err)
					}
					status, body := finalResponse(t, br, f)
					want := "got " + strconv.Itoa(f.body)
					if f.name == "HEAD" {
						want = ""
					}
					if status != 200 || body != want {
						failed++
						if failed <= 5 {
							t.Errorf("%s, round %d: %d %q, want 200 %q", f.name, i, status, body, want)
						}
						c.Close()
						c = nil
					} else if f.http1 {
						c.Close()
						c = nil
					}
					if !onNext && status == 200 {
						// The backend has closed its side before the next
						// request: the gateway can know.
						select {
						case <-be.closed:
						case <-time.After(ioTimeout):
							t.Fatalf("%s, round %d: the backend did not close its connection", f.name, i)
						}
					}
				}
				if c != nil {
					c.Close()
				}
			}
			if failed > 0 {
				t.Fatalf("%d of %d requests failed", failed, rounds*len(requestForms))
			}
		})
	}
}

// finalResponse reads the response to a request of form f, past any
// 100 Continue.
func finalResponse(t *testing.T, br *bufio.Reader, f requestForm) (int, string) {
	t.Helper()
	method := strings.Fields(f.raw)[0]
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return 0, err.Error()
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return resp.StatusCode, err.Error()
		}
		if resp.StatusCode != 100 {
			return resp.StatusCode, string(body)
		}
	}
}
