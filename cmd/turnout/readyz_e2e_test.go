package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// TestReadyzWaitsForEveryStoredGateway: a stored gateway whose port another
// process holds when turnout starts keeps /readyz at 503, naming the
// gateway and its port, while /healthz stays 200 (restarting would not
// free the port) and both answer without the admin token, as Marathon's
// checks call them; the other gateway serves meanwhile. Once the port is
// free the gateway is put in service without a restart and /readyz turns
// 200.
func TestReadyzWaitsForEveryStoredGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const token = "readyz-token"
	backend := testnet.Backend(t, "a")
	data := t.TempDir()
	port, other := testnet.FreePort(t), testnet.FreePort(t)
	tt := run(t, "--data-dir", data, "--token", token)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + tt.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for name, p := range map[string]int{"g": port, "h": other} {
		req, _ := http.NewRequest("PUT", "http://"+tt.admin+"/api/v1/gateways/"+name,
			strings.NewReader(fmt.Sprintf("name: %s\nport: %d\nroutes:\n  \"[%s]\": {}\n", name, p, backend)))
		req.Header.Set("Content-Type", "application/x-yaml")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT gateway %s: %d", name, resp.StatusCode)
		}
	}
	testnet.Eventually(t, 10*time.Second, "/readyz to answer 200 with g and h in service", func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})

	// Another process takes g's port while turnout is down.
	tt.stop()
	taken, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tt = run(t, "--data-dir", data, "--token", token) // waits for /healthz 200
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, fmt.Sprintf("gateway %q: listen on port %d", "g", port)) {
		t.Fatalf("/readyz with g's port taken: %d %q, want 503 naming gateway g and port %d", code, body, port)
	}
	if code, body := get("/healthz"); code != http.StatusOK || !strings.Contains(body, "degraded") {
		t.Errorf("/healthz with g's port taken: %d %q, want 200 saying degraded", code, body)
	}
	if code := httpCode(t, fmt.Sprintf("http://127.0.0.1:%d/", other)); code != http.StatusOK {
		t.Errorf("gateway h, whose port is free, answers %d while g's is taken", code)
	}

	// The port is freed: turnout retries, g serves, /readyz turns 200.
	taken.Close()
	testnet.Eventually(t, 15*time.Second, "/readyz to answer 200 once the port is free", func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "a") {
		t.Errorf("gateway g after the retry: %d %q", resp.StatusCode, b)
	}
}

func httpCode(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
