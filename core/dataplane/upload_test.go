package dataplane_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
)

// A streamed request body is passed on as it comes, not when some buffer
// fills: in lockstep, the client sends piece i+1 only once the backend has
// read all of piece i, so anything the gateway holds back deadlocks and
// fails. The pieces are not a multiple of 4 KiB: fasthttp's own copy of a
// body of known length held the last part of each back until the next.
func TestStreamingUploadInLockstep(t *testing.T) {
	t.Parallel()
	const pieces, piece = 12, 40000 // 480,000 bytes: over the event loops' 64 KiB, streamed
	for _, chunked := range []bool{false, true} {
		t.Run(map[bool]string{true: "chunked", false: "content-length"}[chunked], func(t *testing.T) {
			t.Parallel()
			got := make(chan int)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				buf := make([]byte, piece)
				for i := range pieces {
					if _, err := io.ReadFull(r.Body, buf); err != nil {
						http.Error(w, fmt.Sprintf("piece %d: %v", i, err), http.StatusBadRequest)
						return
					}
					select {
					case got <- i:
					case <-time.After(2 * ioTimeout):
						return
					}
				}
				if n, _ := io.Copy(io.Discard, r.Body); n != 0 {
					http.Error(w, fmt.Sprintf("%d bytes too many", n), http.StatusBadRequest)
					return
				}
				fmt.Fprintf(w, "%d pieces", pieces)
			}))
			t.Cleanup(ts.Close)
			g := startGateway(t, simpleGateway("up", ts.Listener.Addr().String(), ""), dataplane.Options{}, engine.Options{})

			c, err := net.Dial("tcp", g.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(4 * ioTimeout))
			framing := fmt.Sprintf("Content-Length: %d", pieces*piece)
			if chunked {
				framing = "Transfer-Encoding: chunked"
			}
			if _, err := fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: up\r\n%s\r\n\r\n", framing); err != nil {
				t.Fatal(err)
			}
			data := strings.Repeat("p", piece)
			for i := range pieces {
				if chunked {
					_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", piece, data)
				} else {
					_, err = io.WriteString(c, data)
				}
				if err != nil {
					t.Fatalf("piece %d: %v", i, err)
				}
				select {
				case n := <-got:
					if n != i {
						t.Fatalf("the backend read piece %d, want %d", n, i)
					}
				case <-time.After(ioTimeout):
					t.Fatalf("the backend did not get piece %d of %d while the client waited: the gateway holds the body back", i, pieces)
				}
			}
			if chunked {
				io.WriteString(c, "0\r\n\r\n")
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != fmt.Sprintf("%d pieces", pieces) {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
		})
	}
}
