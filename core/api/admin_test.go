package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/turnout/turnout/core/metrics"
)

func TestAdminEndpoints(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.TableSwaps.Inc()
	var failing atomic.Bool
	failing.Store(true)
	s, err := Start(Options{Addr: "127.0.0.1:0", Registry: reg.Prometheus, Logger: slog.New(slog.DiscardHandler),
		Ready: func() error {
			if failing.Load() {
				return errors.New("routing table failed: port 80 is taken")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "port 80 is taken") {
		t.Errorf("/readyz while failing: %d %q", code, body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok (degraded: routing table failed: port 80 is taken)\n" {
		t.Errorf("/healthz while failing: %d %q", code, body)
	}
	failing.Store(false)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(path); code != 200 || body != "ok\n" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "turnout_table_swaps_total 1") {
		t.Errorf("/metrics: %d, missing turnout_table_swaps_total", code)
	}
	if code, _ := get("/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ served without Pprof: %d", code)
	}
}
