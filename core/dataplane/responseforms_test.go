package dataplane_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
)

// responseForm is a case of testdata/response-forms.json: what an
// endpoint answers, and what the client must get.
type responseForm struct {
	Name     string `json:"name"`
	Response string `json:"response"` // the endpoint's bytes, then it closes
	HTTP10   bool   `json:"http10"`   // the client asks with HTTP/1.0
	Status   int    `json:"status"`   // 0: the connection closes without a whole response
	Body     string `json:"body"`
	Absent   string `json:"absent"` // a header the client must not get
}

// TestResponseForms: the gateway refuses at once what HAProxy refuses
// (a folded or bare-LF response head: 502, a chunk size with junk after
// it), drops what HAProxy drops (Content-Length on a 204), and never sends
// chunks to an HTTP/1.0 client. The route's timeout is an hour, so "at
// once" is within the test's I/O deadline.
func TestResponseForms(t *testing.T) {
	raw, err := os.ReadFile("testdata/response-forms.json")
	if err != nil {
		t.Fatal(err)
	}
	var forms []responseForm
	if err := json.Unmarshal(raw, &forms); err != nil {
		t.Fatal(err)
	}
	for _, f := range forms {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			be := newRecorder(t)
			be.respond = func(_ *rawRequest, c net.Conn, _ *bufio.Reader) bool {
				io.WriteString(c, f.Response)
				return false
			}
			g := startGateway(t, simpleGateway("forms", be.addr, "{timeout: 1h, retries: 0}"), dataplane.Options{}, engine.Options{})
			req := "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
			if f.HTTP10 {
				req = "GET / HTTP/1.0\r\nHost: a\r\n\r\n"
			}
			c := dial(t, g.addr)
			io.WriteString(c, req)
			closed, got := waitClosed(c, ioTimeout)
			if !closed {
				t.Fatalf("no close within %s (the endpoint closed at once): got %q", ioTimeout, got)
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), &http.Request{Method: "GET"})
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
			}
			if f.Status == 0 {
				if err == nil {
					t.Fatalf("got a whole response %d %q, want the connection closed mid-response: %q", resp.StatusCode, body, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v in %q", err, got)
			}
			if resp.StatusCode != f.Status || f.Body != "" && string(body) != f.Body {
				t.Fatalf("got %d %q, want %d %q: %q", resp.StatusCode, body, f.Status, f.Body, got)
			}
			if f.Absent != "" && resp.Header.Get(f.Absent) != "" || f.Absent == "Transfer-Encoding" && len(resp.TransferEncoding) > 0 {
				t.Fatalf("the client got %s: %q", f.Absent, got)
			}
		})
	}
}
