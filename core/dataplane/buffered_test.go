package dataplane_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
)

// Small bodies of known length are read before the client is answered; one
// that the endpoint cuts short must fail the exchange (502 and a closed
// connection), never reach the client as a shorter, valid-looking response.
func TestTruncatedSmallBodyIsAFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, answer string
		status       int
		body         string
	}{
		{"whole body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello"},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", 502, "turnout: the endpoint could not be reached\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := newRecorder(t)
			be.respond = func(_ *rawRequest, c net.Conn, _ *bufio.Reader) bool {
				io.WriteString(c, tc.answer)
				return false // and hang up
			}
			g := startGateway(t, simpleGateway("cut", be.addr, "{retries: 0}"), dataplane.Options{}, engine.Options{})
			resps := parseResponses(t, exchange(t, g.addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
			if len(resps) != 1 || resps[0].Status != tc.status || !strings.Contains(string(resps[0].Body), tc.body) {
				t.Fatalf("client got %+v, want %d %q", resps, tc.status, tc.body)
			}
		})
	}
}
