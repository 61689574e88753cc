package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/turnout/turnout/core/console"
	"github.com/turnout/turnout/core/metrics"
)

func TestTokenGuardsEverythingButHealthReadinessMetricsAndTheConsolesFiles(t *testing.T) {
	reg := metrics.NewRegistry()
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "[]") })
	s, err := Start(Options{Addr: "127.0.0.1:0", Registry: reg.Prometheus, Logger: slog.New(slog.DiscardHandler), API: api, Token: "s3cret",
		Console: console.Handler()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr().String()
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/metrics", "", 200},
		{"/api/v1/gateways", "", 401},
		{"/api/v1/gateways", "Bearer wrong", 401},
		{"/api/v1/gateways", "Bearer s3cre", 401},
		{"/api/v1/gateways", "Bearer s3cret-and-more", 401},
		{"/api/v1/gateways", "Basic czNjcmV0", 401},
		{"/api/v1/gateways", "s3cret", 401},
		{"/api/v1/gateways", "Bearer s3cret", 200},
		{"/api/v1/gateways", "token=s3cret", 200}, // DC/OS's form
		{"/nope", "", 401},                        // no hint of what exists
		// The console's page and files hold no data: a browser loads them
		// without a header, and the page sends the token to the API.
		{"/", "", 200},
		{"/console/console.js", "", 200},
		{"/console/console.css", "", 200},
		{"/console/other.js", "", 401},
		{"/console/", "", 401},
	} {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s with %q: %d, want %d", tc.path, tc.auth, resp.StatusCode, tc.want)
		}
		if tc.want == 401 && string(body) != "{\"message\":\"unauthorized\"}\n" {
			t.Errorf("%s with %q: body %q says more than it should", tc.path, tc.auth, body)
		}
	}
}

// A client that sends half a request and stalls is cut off.
func TestSlowAdminClientIsCutOff(t *testing.T) {
	reg := metrics.NewRegistry()
	s, err := Start(Options{Addr: "127.0.0.1:0", Registry: reg.Prometheus, Logger: slog.New(slog.DiscardHandler), ReadTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: a\r\n") // and nothing more
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("closed after %v", took)
	}
}
