package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/internal/zktest"
)

// TestNamedConditionEndToEnd moves Firefox users between routes through
// the real binary by changing only a named condition: Vamp's
// /api/v1/conditions artefact ({name, kind: conditions, metadata,
// condition}: ConditionSerializer in model/src/main/scala/io/vamp/model/
// serialization/GatewaySerializationFormat.scala) referenced from a route
// as {reference: NAME} (WeakConditionReader, model/src/main/scala/io/vamp/
// model/reader/GatewayReader.scala). Both gateways referencing it get a new
// revision, and traffic follows.
func TestNamedConditionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	def, special := testnet.Backend(t, "default"), testnet.Backend(t, "special")
	tt := run(t, "--data-dir", t.TempDir())
	api := "http://" + tt.admin + "/api/v1"
	call := func(wantStatus int, method, path, ct, body string) string {
		t.Helper()
		status, _, out := apiCall(t, method, api+path, ct, body)
		if status != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, wantStatus)
		}
		return out
	}
	call(201, "PUT", "/conditions/browser", "application/json",
		`{"name": "browser", "kind": "conditions", "metadata": {}, "condition": "user-agent = Firefox"}`)
	ports := []int{testnet.FreePort(t), testnet.FreePort(t)}
	for i, name := range []string{"shop", "blog"} {
		call(201, "PUT", "/gateways/"+name, "application/x-yaml", fmt.Sprintf(`name: %s
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
    condition:
      reference: browser
`, name, ports[i], def, special))
	}
	const (
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
		chrome  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
	)
	routed := func(what string, want map[string]string) {
		t.Helper()
		for _, port := range ports {
			testnet.Eventually(t, 30*time.Second, fmt.Sprintf("%s on port %d", what, port), func() bool {
				return backendFor(port, "User-Agent", firefox) == want["firefox"] && backendFor(port, "User-Agent", chrome) == want["chrome"]
			})
		}
	}
	routed("Firefox to the special route", map[string]string{"firefox": "special", "chrome": "default"})

	// Only the named condition changes.
	call(200, "PUT", "/conditions/browser", "application/x-yaml", "name: browser\ncondition: user-agent = Chrome\n")
	routed("Chrome to the special route, Firefox back to the default", map[string]string{"firefox": "default", "chrome": "special"})
	for _, name := range []string{"shop", "blog"} {
		out := call(200, "GET", "/gateways/"+name+"/revisions", "", "")
		if !strings.Contains(out, `"revision":2`) || !strings.Contains(out, `named condition \"browser\" changed: \"user-agent = Firefox\" -> \"user-agent = Chrome\"`) {
			t.Errorf("revisions of %s: %s", name, out)
		}
		out = call(200, "GET", "/gateways/"+name, "", "")
		if !strings.Contains(out, `"condition":{"reference":"browser","condition":"user-agent = Chrome"}`) {
			t.Errorf("gateway %s: %s", name, out)
		}
	}
	out := call(409, "DELETE", "/conditions/browser", "", "")
	if !strings.Contains(out, `referenced by the routes of gateways \"blog\", \"shop\"`) {
		t.Errorf("delete in use: %s", out)
	}
	out = call(400, "PUT", "/gateways/shop", "application/x-yaml", fmt.Sprintf("name: shop\nport: %d/http\nroutes:\n  \"[%s]\":\n    condition: {reference: nosuch}\n", ports[0], def))
	if !strings.Contains(out, `routes.\"[`+def+`]\".condition.reference: no such named condition \"nosuch\"`) {
		t.Errorf("unknown reference: %s", out)
	}
	// The refused write left the running table alone.
	routed("the table after a refused write", map[string]string{"firefox": "default", "chrome": "special"})

	// The CLI: turnout condition list|get|apply|delete.
	dir := t.TempDir()
	write := fileWriter(t, dir)
	tt.expectCLI(0, "user-agent = Chrome", "condition", "list")
	tt.expectCLI(0, "browser: user-agent = Chrome", "gateway", "get", "shop")
	tt.expectCLI(0, `"condition":"user-agent = Chrome"`, "condition", "get", "browser", "-o", "json")
	ff := write("browser.yaml", "name: browser\nkind: conditions\ncondition: user-agent = Firefox\n")
	tt.expectCLI(0, "condition/browser updated (revision 3)", "condition", "apply", "-f", ff)
	routed("Firefox back to the special route by the CLI", map[string]string{"firefox": "special", "chrome": "default"})
	tt.expectCLI(0, "condition/browser unchanged (revision 3)", "condition", "apply", "-f", ff)
	tt.expectCLI(2, `bad.yaml:2:12: condition: invalid condition "user-agent =="`, "condition", "apply", "-f", write("bad.yaml", "name: browser\ncondition: user-agent ==\n"))
	tt.expectCLI(1, `referenced by the routes of gateways "blog", "shop"`, "condition", "delete", "browser")
	// A gateway file with a reference applies, and again is unchanged.
	gw := write("shop.yaml", fmt.Sprintf("name: shop\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: 100%%\n  \"[%s]\":\n    weight: 0%%\n    condition: {reference: browser}\n", ports[0], def, special))
	tt.expectCLI(0, "gateway/shop unchanged (revision 3)", "gateway", "apply", "-f", gw)
	tt.expectCLI(0, "condition/new created (revision 1)", "condition", "apply", "-f", write("new.json", `{"name": "new", "condition": "has cookie beta"}`))
	tt.expectCLI(0, "condition/new deleted", "condition", "delete", "new")

	// A backup carries the named conditions, and its check counts them;
	// a copy of it into another store too (a copy counts documents, the
	// deleted condition "new" among them).
	backup := filepath.Join(dir, "backup.db")
	tt.expectCLI(0, "2 gateways, 0 policy states, 1 named condition", "store", "backup", backup)
	var sout, errb bytes.Buffer
	copied := t.TempDir()
	if code := runTurnout(t, nil, &sout, &errb, "store", "restore", "--data-dir", copied, backup); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, sout.String(), errb.String())
	}
	sout.Reset()
	if code := runTurnout(t, nil, &sout, &errb, "store", "copy", "--from", "bolt://"+copied, "--to", "bolt://"+filepath.Join(t.TempDir(), "copy")); code != 0 ||
		!strings.Contains(sout.String(), "2 gateways, 0 policy states, 2 named conditions,") {
		t.Fatalf("copy: exit %d\n%s%s", code, sout.String(), errb.String())
	}

	// `gateway update --condition` gives a route text of its own: the
	// reference goes, and the condition is no longer in use by that gateway.
	tt.expectCLI(0, "", "gateway", "update", "shop", "--route", "["+special+"]", "--condition", "user-agent = Safari")
	if out := call(200, "GET", "/gateways/shop", "", ""); !strings.Contains(out, `"condition":"user-agent = Safari"`) || strings.Contains(out, "reference") {
		t.Errorf("shop after update --condition: %s", out)
	}
	tt.expectCLI(1, `condition "browser" is referenced by the routes of gateway "blog": change`, "condition", "delete", "browser")
}

// A gateway file cannot reference a named condition: they live in the
// API's store. `turnout serve -f` refuses to start, saying so.
func TestNamedConditionInFileRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	file := filepath.Join(t.TempDir(), "gateways.yaml")
	doc := fmt.Sprintf("name: shop\nport: %d/http\nroutes:\n  \"[127.0.0.1:1]\":\n    condition: {reference: browser}\n", testnet.FreePort(t))
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var sout, errb bytes.Buffer
	code := runTurnout(t, nil, &sout, &errb, "serve", "-f", file, "--data-dir", t.TempDir(), "--admin", "127.0.0.1:0", "--bind", "127.0.0.1")
	want := `routes."[127.0.0.1:1]".condition.reference: references the named condition "browser", and named conditions live in the API's store`
	if code == 0 || !strings.Contains(errb.String()+sout.String(), want) {
		t.Fatalf("exit %d, want non-zero and %q\nstdout: %s\nstderr: %s", code, want, sout.String(), errb.String())
	}
}

// Two agents on one ZooKeeper store: a named condition changed through
// agent a moves the traffic agent b serves, since the condition and the
// gateways rewritten with it are one commit in the shared store.
func TestNamedConditionZKTwoAgents(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	url := "zk://" + srv.Addr() + "/e2e/conditions"
	def, special := testnet.Backend(t, "default"), testnet.Backend(t, "special")
	port := testnet.FreePort(t)
	a := run(t, "--store", url)
	b := run(t, "--store", url, "--bind", "127.0.0.2")
	put := func(tt *turnout, path, ct, body string, want int) {
		t.Helper()
		if status, _, out := apiCall(t, "PUT", "http://"+tt.admin+"/api/v1"+path, ct, body); status != want {
			t.Fatalf("PUT %s through %s: %d %s, want %d", path, tt.admin, status, out, want)
		}
	}
	put(a, "/conditions/browser", "application/x-yaml", "name: browser\ncondition: user-agent = Firefox\n", 201)
	put(b, "/gateways/shop", "application/x-yaml", fmt.Sprintf("name: shop\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: 100%%\n  \"[%s]\":\n    weight: 0%%\n    condition: {reference: browser}\n", port, def, special), 201)
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
	routedTo := func(host, want string) {
		t.Helper()
		testnet.Eventually(t, 30*time.Second, fmt.Sprintf("Firefox on %s to go to %s", host, want), func() bool {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d/", host, port), nil)
			req.Header.Set("User-Agent", firefox)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.Header.Get("X-Backend") == want
		})
	}
	routedTo("127.0.0.1", "special")
	routedTo("127.0.0.2", "special")
	put(a, "/conditions/browser", "application/x-yaml", "name: browser\ncondition: user-agent = Chrome\n", 200)
	routedTo("127.0.0.2", "default")
	routedTo("127.0.0.1", "default")
	status, _, out := apiCall(t, "GET", "http://"+b.admin+"/api/v1/conditions/browser", "", "")
	if status != 200 || !strings.Contains(out, `"condition":"user-agent = Chrome"`) {
		t.Errorf("agent b's condition: %d %s", status, out)
	}
}
