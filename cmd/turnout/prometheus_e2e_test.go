package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// startPrometheus runs Debian's Prometheus scraping target's /metrics every
// second, until the test ends, and returns its base URL once it is ready.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := testnet.Tool(t, "prometheus", "apt-get install -y prometheus")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: turnout
    static_configs:
      - targets: ['%s']
`, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	var out testnet.Buffer
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	url := "http://" + addr
	testnet.Eventually(t, 60*time.Second, "prometheus ready", func() bool {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return url
}

// Canary analysis on a real Prometheus scraping the real binary: a check
// on the canary's request rate lets a healthy canary through to its
// promotion, and a check on the error ratio rolls back a bad one that the
// built-in checks (max_error_rate 100) let through; a blue/green gateway is
// judged on it before the switch and, with post_promotion, after it. Until
// Prometheus has scraped enough the queries have no value, and on_error:
// hold waits.
func TestPrometheusChecksPromoteAndRollBack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	tt := run(t, "--data-dir", t.TempDir())
	prom := startPrometheus(t, tt.admin)

	const rate = `sum(rate(turnout_requests_total{gateway=\"{{gateway}}\",route=\"{{route}}\",class=\"2xx\"}[5s]))`
	const errRatio = `sum(rate(turnout_requests_total{gateway=\"{{gateway}}\",route=\"{{route}}\",class=~\"5xx|error\"}[5s])) / sum(rate(turnout_requests_total{gateway=\"{{gateway}}\",route=\"{{route}}\"}[5s]))`
	gateways := []struct {
		name    string
		bad     bool
		check   string
		outcome string
	}{
		{"good", false, fmt.Sprintf(`{name: canary-rps, prometheus: %q, query: "%s", min: 1, on_error: hold}`, prom, rate), "promoted"},
		{"bad", true, fmt.Sprintf(`{name: canary-errors, prometheus: %q, query: "%s", max: 0.1, on_error: hold}`, prom, errRatio), "rolled-back"},
	}
	for _, g := range gateways {
		stable, canary := newBackend(t, g.name+"-1.0.0"), newBackend(t, g.name+"-1.1.0")
		if g.bad {
			canary.failEvery.Store(1) // every request a 500
		}
		port := testnet.FreePort(t)
		doc := strings.Replace(canaryGateway(port, stable, canary, "  interval: 1s\n  steps: [50]\n  min_requests: 1\n  max_error_rate: 100\n  checks:\n    - "+g.check+"\n"),
			"name: shop", "name: "+g.name, 1)
		if code, _, body := apiCall(t, "PUT", "http://"+tt.admin+"/api/v1/gateways/"+g.name, "application/x-yaml", doc); code != 201 {
			t.Fatalf("PUT %s: %d %s", g.name, code, body)
		}
		startPolicyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 2, 5*time.Millisecond)
	}
	// Blue/green judged on Prometheus before the switch (the preview's
	// own traffic, through its condition) and after it (all traffic).
	blue, green := newBackend(t, "blue"), newBackend(t, "green")
	bgPort := testnet.FreePort(t)
	bg := fmt.Sprintf(`name: bg
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
    condition: header X-Preview == yes
policy:
  type: bluegreen
  interval: 1s
  active: "[%s]"
  preview: "[%s]"
  auto_promote: true
  post_promotion: 2
  min_requests: 1
  checks:
    - {name: preview-rps, prometheus: %q, query: "%s", min: 1, on_error: hold}
`, bgPort, blue.addr, green.addr, blue.addr, green.addr, prom, rate)
	if code, _, body := apiCall(t, "PUT", "http://"+tt.admin+"/api/v1/gateways/bg", "application/x-yaml", bg); code != 201 {
		t.Fatalf("PUT bg: %d %s", code, body)
	}
	bgURL := fmt.Sprintf("http://127.0.0.1:%d/", bgPort)
	startPolicyLoad(t, bgURL, 1, 5*time.Millisecond)
	startLoad(t, bgURL, loadOptions{clients: 1, pace: 5 * time.Millisecond, header: http.Header{"X-Preview": {"yes"}}, backendErrors: true})
	gateways = append(gateways, struct {
		name    string
		bad     bool
		check   string
		outcome string
	}{"bg", false, "", "promoted"})

	for _, g := range gateways {
		st := tt.awaitStatus(g.name, 90*time.Second, g.name+" "+g.outcome, func(st e2eStatus) bool {
			return st.Policy != nil && st.Policy.Phase == g.outcome
		})
		want := map[string]string{"good": "canary-rps ", "bad": "canary-errors 1 outside max 0.1", "bg": "2/2 windows passed after the switch"}[g.name]
		if !strings.Contains(st.Policy.Last.Reason, want) || g.name == "bg" && !strings.Contains(st.Policy.Last.Reason, "preview-rps ") {
			t.Errorf("%s: the last decision does not name the Prometheus check (%q): %s", g.name, want, st.Policy.Last.Reason)
		}
	}
}
