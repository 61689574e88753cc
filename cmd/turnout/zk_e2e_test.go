package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/internal/zktest"
)

// putIfMatch PUTs a YAML gateway with If-Match (none if "") and returns
// the status, the ETag and the body.
func putIfMatch(t *testing.T, url, ifMatch, doc string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", url, strings.NewReader(doc))
	req.Header.Set("Content-Type", "application/x-yaml")
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), string(b)
}

// answers polls url until a backend answers it with name.
func answers(t *testing.T, url, name, what string) {
	t.Helper()
	testnet.Eventually(t, 15*time.Second, what, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && resp.Header.Get("X-Backend") == name
	})
}

// Two agents on one ZooKeeper path (--store zk://...), as on two public
// agents of a DC/OS cluster (here two loopback addresses): a gateway
// applied through one agent's API is listed and served by the other;
// If-Match means the same on both; with ZooKeeper down writes are 503,
// traffic goes on and /readyz is 503 saying the agent is stale (it cannot
// tell it is in sync),
// 200 again once each agent follows. Then `store copy` takes the whole history from
// ZooKeeper to a data dir and back, unchanged.
func TestZKTwoAgents(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	url := "zk://" + srv.Addr() + "/e2e/turnout"
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	port := testnet.FreePort(t)
	a := run(t, "--store", url)
	b := run(t, "--store", url, "--bind", "127.0.0.2")
	gw := func(weight1 int) string {
		return fmt.Sprintf("name: shop/web\nport: %d\nroutes:\n  \"[%s]\":\n    weight: %d%%\n  \"[%s]\":\n    weight: %d%%\n",
			port, v1.addr, weight1, v2.addr, 100-weight1)
	}
	apiA, apiB := "http://"+a.admin+"/api/v1/gateways/shop/web", "http://"+b.admin+"/api/v1/gateways/shop/web"
	code, etag, body := putIfMatch(t, apiA, "", gw(100))
	if code != 201 || etag != `"1"` {
		t.Fatalf("create through a: %d %s %s", code, etag, body)
	}
	answers(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "v1", "agent a to serve v1")
	// b lists it at once (it reads ZooKeeper) and serves it once its watch fired.
	var list []struct {
		Name string `json:"name"`
	}
	b.getJSON("/api/v1/gateways", &list)
	if len(list) != 1 || list[0].Name != "shop/web" {
		t.Fatalf("agent b lists %+v", list)
	}
	answers(t, fmt.Sprintf("http://127.0.0.2:%d/", port), "v1", "agent b to serve v1")
	readyz := func(tt *turnout) (int, string) {
		code, _, body := apiCall(t, "GET", "http://"+tt.admin+"/readyz", "", "")
		return code, body
	}
	for _, tt := range []*turnout{a, b} {
		testnet.Eventually(t, 10*time.Second, "/readyz 200 on both agents", func() bool {
			code, _ := readyz(tt)
			return code == 200
		})
	}

	// If-Match is one revision number for both agents: b updates from a's
	// ETag, a's stale If-Match is then refused.
	if code, etag, body := putIfMatch(t, apiB, `"1"`, gw(0)); code != 200 || etag != `"2"` {
		t.Fatalf("update through b with a's ETag: %d %s %s", code, etag, body)
	}
	if code, _, body := putIfMatch(t, apiA, `"1"`, gw(50)); code != 412 || !strings.Contains(body, "current revision is 2") {
		t.Fatalf("stale If-Match through a: %d %s", code, body)
	}
	answers(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "v2", "agent a to serve b's update")

	// ZooKeeper down: writes are refused with 503, traffic goes on.
	srv.Stop()
	testnet.Eventually(t, 15*time.Second, "a write to be refused with 503", func() bool {
		code, _, _ := putIfMatch(t, apiA, "", gw(30))
		return code == 503
	})
	answers(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "v2", "agent a to serve on without zookeeper")
	if code, body := readyz(a); code != 503 || !strings.Contains(body, "stale since") || !strings.Contains(body, "serving store version 2") {
		t.Errorf("/readyz without zookeeper: %d %q, want 503 saying it is stale, at version 2", code, body)
	}
	srv.Restart()
	testnet.Eventually(t, 30*time.Second, "a write to go through after the restart", func() bool {
		code, _, _ := putIfMatch(t, apiA, `"2"`, gw(100))
		return code == 200
	})
	answers(t, fmt.Sprintf("http://127.0.0.2:%d/", port), "v1", "agent b to follow after the restart")
	for _, tt := range []*turnout{a, b} {
		testnet.Eventually(t, 15*time.Second, "/readyz 200 on both agents after the restart", func() bool {
			code, _ := readyz(tt)
			return code == 200
		})
	}

	// store copy: ZooKeeper to a data dir, and that into another path.
	revisions := func(tt *turnout) string {
		code, _, body := apiCall(t, "GET", "http://"+tt.admin+"/api/v1/gateways/shop/web/revisions", "", "")
		if code != 200 {
			t.Fatalf("revisions: %d %s", code, body)
		}
		return body
	}
	want := revisions(a)
	if !strings.Contains(want, `"revision":3`) {
		t.Fatalf("a's history: %s", want)
	}
	a.stop()
	b.stop()
	dir := filepath.Join(t.TempDir(), "data")
	out, _ := storeCLI(t, nil, 0, "store", "copy", "--from", url, "--to", "bolt://"+dir)
	mustContain(t, "copy to bolt", out, "1 gateway", "3 revisions", "store version 3")
	url2 := "zk://" + srv.Addr() + "/e2e/copy"
	storeCLI(t, nil, 0, "store", "copy", "--from", "bolt://"+dir, "--to", url2)
	_, stderr := storeCLI(t, nil, 1, "store", "copy", "--from", "bolt://"+dir, "--to", url)
	mustContain(t, "copy onto a store in use", stderr, "not empty", "--force")
	storeCLI(t, nil, 0, "store", "check", "--data-dir", dir)
	for _, store := range []string{"bolt://" + dir, url2} {
		c := run(t, "--store", store, "--bind", "127.0.0.3")
		if got := revisions(c); got != want {
			t.Errorf("history in %s:\n%s\nwant\n%s", store, got, want)
		}
		answers(t, fmt.Sprintf("http://127.0.0.3:%d/", port), "v1", "the copy in "+store+" to serve")
		c.stop()
	}
}

// Bad store URLs name the flag and the problem (exit 2), and a
// ZooKeeper that is not there is an error once the connect timeout ends.
func TestStoreURLUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"serve", "--store", "zk://h:2181"}, "--store: zk://h:2181: no path"},
		{[]string{"serve", "--store", "/var/lib/turnout"}, "not a store URL"},
		{[]string{"serve", "--store", "zk://u:secret@h/t", "--data-dir", "x"}, "not both"},
		{[]string{"store", "copy", "--from", "bolt://x"}, "give both"},
		{[]string{"store", "copy", "--from", "bolt://x", "--to", "zk://u:secret@h/a/"}, "--to: zk://u:xxxxx@h/a/: path"},
		{[]string{"store", "copy", "--from", "bolt://x", "--to", "bolt://./x"}, "the same store"},
	} {
		_, stderr := storeCLI(t, nil, 2, tt.args...)
		mustContain(t, strings.Join(tt.args, " "), stderr, tt.msg)
		if strings.Contains(stderr, "secret") {
			t.Errorf("%v: the password is shown: %s", tt.args, stderr)
		}
	}
	port := testnet.FreePort(t) // nothing listens there
	_, stderr := storeCLI(t, nil, 1, "serve", "--admin", "127.0.0.1:0", "--store", fmt.Sprintf("zk://127.0.0.1:%d/t?connect-timeout=1s", port))
	mustContain(t, "serve without zookeeper", stderr, "no session within 1s", "store unavailable")
}
