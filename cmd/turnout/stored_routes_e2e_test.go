package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// TestStoredRouteEndToEnd moves beta testers between versions through the
// real binary by changing only a stored route: Vamp's /api/v1/routes
// artefact (serializeRoute in model/src/main/scala/io/vamp/model/
// serialization/GatewaySerializationFormat.scala) which a gateway's route
// takes as `KEY: NAME` (RouteReader.readReferenceOrAnonymous in model/src/
// main/scala/io/vamp/model/reader/GatewayReader.scala; Vamp's own
// blueprint11.yml writes `nocturnal-viper: conservative`). Both gateways
// using it get a new revision, keep their weights, and traffic follows.
func TestStoredRouteEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, beta := testnet.Backend(t, "stable"), testnet.Backend(t, "beta")
	tt := run(t, "--data-dir", t.TempDir())
	dir := t.TempDir()
	write := fileWriter(t, dir)
	route := write("testers.yaml", "name: testers\nkind: routes\ncondition: has cookie beta\nweight: null\ntimeout: 5s\n")
	tt.expectCLI(0, "route/testers created (revision 1)", "route", "apply", "-f", route)
	tt.expectCLI(0, "route/testers unchanged (revision 1)", "route", "apply", "-f", route)

	ports := []int{testnet.FreePort(t), testnet.FreePort(t)}
	for i, name := range []string{"shop", "blog"} {
		// shop takes Vamp's `KEY: NAME`, blog {reference: NAME}.
		ref := "testers"
		if name == "blog" {
			ref = "{reference: testers}"
		}
		gw := write(name+".yaml", fmt.Sprintf("name: %s\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: 100%%\n  \"[%s]\": %s\n", name, ports[i], stable, beta, ref))
		tt.expectCLI(0, "gateway/"+name+" created (revision 1)", "gateway", "apply", "-f", gw)
	}
	routed := func(what string, want map[string]string) {
		t.Helper()
		for _, port := range ports {
			testnet.Eventually(t, 30*time.Second, fmt.Sprintf("%s on port %d", what, port), func() bool {
				for cookie, backend := range want {
					header := "Cookie" // "" for a request without one
					if cookie == "" {
						header = ""
					}
					if backendFor(port, header, cookie+"=1") != backend {
						return false
					}
				}
				return true
			})
		}
	}
	routed("beta cookies to the beta version", map[string]string{"": "stable", "beta": "beta", "tester": "stable"})
	tt.expectCLI(0, "[127.0.0.1:", "gateway", "get", "shop")
	tt.expectCLI(0, "(route testers)  0%", "gateway", "get", "shop")
	tt.expectCLI(0, "has cookie beta", "route", "list")
	tt.expectCLI(0, `"weight":null`, "route", "get", "testers", "-o", "json")

	// Only the stored route changes: both gateways follow, weights kept.
	tt.expectCLI(0, "route/testers updated (revision 2)", "route", "apply", "-f",
		write("testers2.yaml", "name: testers\ncondition: has cookie tester\ntimeout: 5s\n"))
	routed("tester cookies to the beta version", map[string]string{"": "stable", "beta": "stable", "tester": "beta"})
	api := "http://" + tt.admin + "/api/v1"
	for _, name := range []string{"shop", "blog"} {
		_, _, out := apiCall(t, "GET", api+"/gateways/"+name+"/revisions", "", "")
		if !strings.Contains(out, `"revision":2`) || !strings.Contains(out, `stored route \"testers\" changed`) {
			t.Errorf("revisions of %s: %s", name, out)
		}
		_, _, out = apiCall(t, "GET", api+"/gateways/"+name, "", "")
		if !strings.Contains(out, fmt.Sprintf(`"[%s]":{"reference":"testers","weight":"0%%","condition":"has cookie tester"`, beta)) {
			t.Errorf("gateway %s: %s", name, out)
		}
	}

	// Refusals leave the running table alone.
	tt.expectCLI(1, `routes."[`+stable+`]".reference: no such stored route "nosuch"`, "gateway", "apply", "-f",
		write("bad.yaml", fmt.Sprintf("name: shop\nport: %d/http\nroutes:\n  \"[%s]\": nosuch\n", ports[0], stable)))
	tt.expectCLI(1, `gateway "blog": routes: total route weight must be 0% or 100%, got 150%`, "route", "apply", "-f",
		write("heavy.yaml", "name: testers\nweight: 50%\ncondition: has cookie tester\n"))
	tt.expectCLI(2, "bad-route.yaml:2:9: weight:", "route", "apply", "-f", write("bad-route.yaml", "name: testers\nweight: lots\n"))
	tt.expectCLI(1, `stored route "testers" is referenced by the routes of gateways "blog", "shop"`, "route", "delete", "testers")
	routed("the table after refused writes", map[string]string{"": "stable", "beta": "stable", "tester": "beta"})

	// A backup counts stored routes.
	tt.expectCLI(0, "2 gateways, 0 policy states, 1 stored route,", "store", "backup", filepath.Join(dir, "backup.db"))

	// Without references it can go.
	for _, name := range []string{"shop", "blog"} {
		tt.expectCLI(0, "gateway/"+name+" deleted", "gateway", "delete", name)
	}
	tt.expectCLI(0, "route/testers deleted", "route", "delete", "testers")
}

// A gateway file cannot reference a stored route: they live in the API's
// store. `turnout serve -f` refuses to start, saying so.
func TestStoredRouteInFileRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	file := filepath.Join(t.TempDir(), "gateways.yaml")
	doc := fmt.Sprintf("name: shop\nport: %d/http\nroutes:\n  \"[127.0.0.1:1]\": testers\n", testnet.FreePort(t))
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var sout, errb bytes.Buffer
	code := runTurnout(t, nil, &sout, &errb, "serve", "-f", file, "--data-dir", t.TempDir(), "--admin", "127.0.0.1:0", "--bind", "127.0.0.1")
	want := `routes."[127.0.0.1:1]".reference: references the stored route "testers", and stored routes live in the API's store`
	if code == 0 || !strings.Contains(errb.String()+sout.String(), want) {
		t.Fatalf("exit %d, want non-zero and %q\nstdout: %s\nstderr: %s", code, want, sout.String(), errb.String())
	}
}
