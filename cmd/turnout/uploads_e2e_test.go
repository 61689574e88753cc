package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// TestUploadsToAnEndpointThatClosesIdleConnections: an ordinary backend
// (Go's server here; Node and Apache do the same) closes keep-alive
// connections idle for a second. Every request that follows such a close
// must reach it, streamed uploads included, on both HTTP engines.
func TestUploadsToAnEndpointThatClosesIdleConnections(t *testing.T) {
	for _, engine := range []string{"event loops", "goroutines"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			var open atomic.Int64
			srv := &http.Server{
				IdleTimeout: time.Second,
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n, err := io.Copy(io.Discard, r.Body)
					if err != nil {
						http.Error(w, err.Error(), http.StatusBadRequest)
						return
					}
					fmt.Fprintf(w, "%s %d", r.Method, n)
				}),
				ConnState: func(_ net.Conn, s http.ConnState) {
					switch s {
					case http.StateNew:
						open.Add(1)
					case http.StateClosed, http.StateHijacked:
						open.Add(-1)
					}
				},
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })

			port := testnet.FreePort(t)
			var args []string
			if engine == "goroutines" {
				args = append(args, "--goroutine-http")
			}
			start(t, fmt.Sprintf("name: uploads\nport: %d\nroutes:\n  \"[%s]\": {}\n", port, ln.Addr()), args...)
			url := fmt.Sprintf("http://127.0.0.1:%d/upload", port)

			big := strings.Repeat("u", 100<<10)
			forms := []struct {
				name, method, body string
				chunked            bool
			}{
				{"GET", "GET", "", false},
				{"DELETE", "DELETE", "", false},
				{"POST", "POST", "hello", false},
				{"POST 100 KiB", "POST", big, false},
				{"POST chunked", "POST", "hello", true},
				{"PUT chunked", "PUT", big, true},
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(forms)}, Timeout: 10 * time.Second}
			t.Cleanup(client.CloseIdleConnections)
			const rounds = 3
			for round := range rounds {
				// The backend has closed every connection it had: each
				// request of the round meets a closed pooled one.
				testnet.Eventually(t, 10*time.Second, "the backend to close its idle connections", func() bool { return open.Load() == 0 })
				var wg sync.WaitGroup
				for _, f := range forms {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var body io.Reader = strings.NewReader(f.body)
						if f.chunked {
							body = io.MultiReader(body) // no length: sent chunked
						}
						req, _ := http.NewRequest(f.method, url, body)
						resp, err := client.Do(req)
						if err != nil {
							t.Errorf("round %d, %s: %v", round, f.name, err)
							return
						}
						got, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						want := fmt.Sprintf("%s %d", f.method, len(f.body))
						if resp.StatusCode != 200 || string(got) != want {
							t.Errorf("round %d, %s: %d %q, want 200 %q", round, f.name, resp.StatusCode, got, want)
						}
					}()
				}
				wg.Wait()
			}
		})
	}
}
