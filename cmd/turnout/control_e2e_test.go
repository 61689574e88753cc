package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// metric reads one unlabelled sample from /metrics.
func (tt *turnout) metric(name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(tt.metrics())
	if m == nil {
		tt.t.Fatalf("/metrics has no %s", name)
	}
	return m[1]
}

// Bad requests to the real server change neither the store nor the data
// plane: the table in service keeps its generation.
func TestRefusedRequestsLeaveTheDataPlaneAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a := testnet.Backend(t, "a")
	port := testnet.FreePort(t)
	tt := run(t, "--data-dir", t.TempDir())
	api := "http://" + tt.admin + "/api/v1/gateways"
	good := fmt.Sprintf("name: g\nport: %d\nroutes:\n  \"[%s]\":\n    weight: 100%%\n", port, a)
	if code, _, body := apiCall(t, "PUT", api+"/g", "application/x-yaml", good); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	testnet.Eventually(t, 5*time.Second, "the gateway to serve", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	gen, swaps := tt.metric("turnout_table_generation"), tt.metric("turnout_table_swaps_total")

	adminPort := strings.Split(tt.admin, ":")[1]
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := strings.Split(taken.Addr().String(), ":")[1]
	other := strings.Replace(good, "name: g", "name: h", 1)
	_, etag, _ := apiCall(t, "GET", api+"/g", "", "")
	for i, tc := range []struct {
		method, path, ct, body string
		ifMatch                string
		want                   int
	}{
		{"PUT", "/g", "application/x-yaml", strings.Replace(good, "100%", "90%", 1), "", 400},                                                                    // weights total 90%
		{"PUT", "/g", "application/x-yaml", "name: g\nport: " + adminPort + "\n", "", 409},                                                                       // the admin port
		{"PUT", "/g", "application/x-yaml", "name: g\nport: " + takenPort + "\n", "", 409},                                                                       // a port another process holds
		{"PUT", "/g", "application/x-yaml", good + "colour: blue\n", "", 400},                                                                                    // unknown field
		{"PUT", "/g", "application/x-yaml", strings.Replace(good, "weight:", "wait:", 1), "", 400},                                                               // unknown route field
		{"PUT", "/g", "text/plain", good, "", 415},                                                                                                               // media type
		{"PUT", "/g", "application/x-yaml", "name: g\nport: [\n", "", 400},                                                                                       // malformed YAML
		{"PUT", "/g", "application/json", `{"name": "g", "port": }`, "", 400},                                                                                    // malformed JSON
		{"PUT", "/g", "application/x-yaml", good + "  \"[127.0.0.1:1]\":\n    condition: user-agent ==\n", "", 400},                                              // condition position
		{"PUT", "/g", "application/x-yaml", other, "", 400},                                                                                                      // name mismatch
		{"PUT", "/g", "application/x-yaml", good, `"7"`, 412},                                                                                                    // stale If-Match
		{"PUT", "/g", "application/x-yaml", good, `W/"1"`, 400},                                                                                                  // weak If-Match
		{"PUT", "/g", "application/x-yaml", "", "", 400},                                                                                                         // empty body
		{"PUT", "/g", "application/x-yaml", good + "---\n" + other, "", 400},                                                                                     // a list to PUT
		{"PUT", "/g", "application/x-yaml", good + "sticky: forever\n", "", 400},                                                                                 // sticky value
		{"PUT", "/g", "application/x-yaml", strings.Replace(good, "port: "+strings.Split(strings.Split(good, "port: ")[1], "\n")[0], "port: 1/udp", 1), "", 400}, // port form
		{"PUT", "/g", "application/x-yaml", strings.Repeat("#", 2<<20), "", 413},                                                                                 // oversized body
		{"PUT", "/h%20x", "application/x-yaml", strings.Replace(good, "name: g", "name: h x", 1), "", 400},                                                       // name with a space
		{"PUT", "/nope", "application/x-yaml", strings.Replace(good, "name: g", "name: nope", 1), `"1"`, 404},                                                    // If-Match on an unknown gateway
		{"POST", "", "application/x-yaml", good, "", 409},                                                                                                        // POST of an existing gateway
		{"POST", "", "application/x-yaml", other + "---\n" + strings.Replace(other, "name: h", "name: i", 1), "", 409},                                           // two gateways on one port
		{"POST", "?validate_only=true", "application/x-yaml", strings.Replace(other, "100%", "10%", 1), "", 400},                                                 // validate_only, invalid
		{"PATCH", "/g", "application/merge-patch+json", `{"sticky": "forever"}`, "", 400},                                                                        // patch to an invalid gateway
		{"PATCH", "/g", "application/json", `{"sticky": "route"}`, "", 415},                                                                                      // patch media type
		{"PATCH", "/nope", "application/merge-patch+json", `{"sticky": "route"}`, "", 404},                                                                       // patch unknown
		{"POST", "/g/rollback?to=7", "", "", "", 404},                                                                                                            // unknown revision
		{"POST", "/g/rollback?to=1", "", "", `"9"`, 412},                                                                                                         // stale rollback
		{"GET", "?page=0", "", "", "", 400},                                                                                                                      // bad page
		{"DELETE", "/g", "", "", `"3"`, 412},                                                                                                                     // stale delete
		{"DELETE", "", "", "", "", 405},                                                                                                                          // method not allowed
	} {
		req, _ := http.NewRequest(tc.method, api+tc.path, strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		if tc.ifMatch != "" {
			req.Header.Set("If-Match", tc.ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || !strings.HasPrefix(string(b), `{"message":`) {
			t.Errorf("case %d, %s %s: %d %s, want %d and a message", i, tc.method, tc.path, resp.StatusCode, b, tc.want)
		}
	}
	if _, now, _ := apiCall(t, "GET", api+"/g", "", ""); now != etag {
		t.Errorf("refused requests changed the stored gateway: ETag %s -> %s", etag, now)
	}
	var stored []struct {
		Name string `json:"name"`
	}
	if tt.getJSON("/api/v1/gateways", &stored); len(stored) != 1 || stored[0].Name != "g" {
		t.Errorf("refused requests changed the stored gateways: %+v", stored)
	}
	// A barrier rather than a pause: the engine applies the store's
	// changes in order, so once one accepted change is in service anything
	// the refused requests set off would be too, and it must be the only
	// change the data plane saw.
	if code, _, body := apiCall(t, "PUT", api+"/g", "application/x-yaml", good+"sticky: route\n"); code != 200 {
		t.Fatalf("accepted change: %d %s", code, body)
	}
	testnet.Eventually(t, 10*time.Second, "the accepted change in service", func() bool {
		return tt.metric("turnout_table_generation") != gen
	})
	if g, s := tt.metric("turnout_table_generation"), tt.metric("turnout_table_swaps_total"); g != plus1(t, gen) || s != plus1(t, swaps) {
		t.Fatalf("refused requests changed the data plane: generation %s -> %s, swaps %s -> %s, with one accepted change", gen, g, swaps, s)
	}
}

// plus1 is a metric's integer sample plus one.
func plus1(t *testing.T, sample string) string {
	t.Helper()
	n, err := strconv.Atoi(sample)
	if err != nil {
		t.Fatalf("sample %q: %v", sample, err)
	}
	return strconv.Itoa(n + 1)
}

// SIGKILL in the middle of a stream of acknowledged updates: after a
// restart the store holds every acknowledged revision (and at most the one
// that was in flight), and the gateway's current revision is the newest.
func TestKillDuringUpdatesKeepsEveryAcknowledgedRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, c := testnet.Backend(t, "a"), testnet.Backend(t, "c")
	data := t.TempDir()
	// No port in the document: Turnout assigns one from its range, below
	// the ephemeral ports, which other tests' connections may take
	// between a FreePort and the bind.
	tt := run(t, "--data-dir", data)
	api := "http://" + tt.admin + "/api/v1/gateways/g"
	doc := func(wa int) string {
		return fmt.Sprintf("name: g\nroutes:\n  \"[%s]\":\n    weight: %d%%\n  \"[%s]\":\n    weight: %d%%\n", a, wa, c, 100-wa)
	}
	acked := map[int]int{} // revision -> weight of a; the loop's until done
	last := 0
	var count atomic.Int64
	var stopped string // why the loop ended, set before done closes
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			wa := i % 101
			code, etag, body := apiCall(t, "PUT", api, "application/x-yaml", doc(wa))
			if code != 200 && code != 201 {
				stopped = fmt.Sprintf("PUT %d answered %d %s", i, code, body)
				return // the server is gone
			}
			var rev int
			fmt.Sscanf(etag, `"%d"`, &rev)
			acked[rev] = wa
			last = rev
			count.Add(1)
		}
	}()
	testnet.Eventually(t, 10*time.Second, "30 acknowledged updates", func() bool {
		select {
		case <-done:
			t.Fatalf("the update loop stopped early: %s", stopped)
		default:
		}
		return count.Load() >= 30
	})
	// Kill it mid-stream: a few more updates after the 30.
	at := count.Load()
	testnet.Eventually(t, 10*time.Second, "10 more acknowledged updates", func() bool {
		select {
		case <-done:
			t.Fatalf("the update loop stopped early: %s", stopped)
		default:
		}
		return count.Load() >= at+10
	})
	tt.cmd.Process.Signal(syscall.SIGKILL)
	<-done
	tt.cmd.Wait()
	close(stop)
	if last < 10 {
		t.Fatalf("only %d updates acknowledged before the kill", last)
	}

	tt = run(t, "--data-dir", data)
	api = "http://" + tt.admin + "/api/v1/gateways/g"
	code, _, body := apiCall(t, "GET", api+"/revisions", "", "")
	if code != 200 {
		t.Fatalf("revisions after restart: %d %s", code, body)
	}
	var revs []struct {
		Revision int  `json:"revision"`
		Deleted  bool `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(body), &revs); err != nil {
		t.Fatal(err)
	}
	newest := revs[len(revs)-1].Revision
	if newest != last && newest != last+1 {
		t.Fatalf("after the kill the store's newest revision is %d; %d was the last acknowledged", newest, last)
	}
	for rev, wa := range acked {
		if rev <= newest-100 { // pruned: the store keeps the newest 100
			continue
		}
		code, _, body := apiCall(t, "GET", fmt.Sprintf("%s/revisions/%d", api, rev), "", "")
		if code != 200 || !strings.Contains(body, fmt.Sprintf(`"weight":"%d%%"`, wa)) {
			t.Fatalf("acknowledged revision %d (weight %d%%) after restart: %d %s", rev, wa, code, body)
		}
	}
	if _, etag, _ := apiCall(t, "GET", api, "", ""); etag != fmt.Sprintf(`"%d"`, newest) {
		t.Fatalf("current revision %s, want %d", etag, newest)
	}
	t.Logf("%d updates acknowledged before SIGKILL; newest revision after restart: %d", last, newest)
}

// A token from the environment guards the API of the real server, and the
// CLI sends it from the same variable; --help never prints it.
func TestTokenFromEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Setenv("TURNOUT_TOKEN", "s3cret-env-token")
	tt := run(t, "--data-dir", t.TempDir())
	api := "http://" + tt.admin + "/api/v1/gateways"
	if code, _, _ := apiCall(t, "GET", api, "", ""); code != 401 {
		t.Fatalf("without the token: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", api, nil)
	req.Header.Set("Authorization", "token=s3cret-env-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with DC/OS's token= form: %d", resp.StatusCode)
	}
	if out, code := tt.cli("gateway", "list"); code != 0 {
		t.Fatalf("CLI with TURNOUT_TOKEN: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"serve", "--help"}, {"gateway", "--help"}} {
		out, _ := turnoutCLI(t, args...)
		if strings.Contains(out, "s3cret-env-token") {
			t.Errorf("turnout %s prints the token", strings.Join(args, " "))
		}
	}
}

// A 401 names the way to give a token: without one, and with a wrong one.
func TestUnauthorizedNamesTheTokenFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tt := run(t, "--data-dir", t.TempDir(), "--token", "s3cret-flag-token")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"gateway", "list"}, "turnout: unauthorized: this turnout requires an API token: give it with --token or TURNOUT_TOKEN\n"},
		{[]string{"TURNOUT_TOKEN=wrong"}, []string{"gateway", "list"}, "turnout: unauthorized: the API token was refused: check --token or TURNOUT_TOKEN\n"},
		{nil, []string{"gateway", "list", "--token", "wrong"}, "turnout: unauthorized: the API token was refused: check --token or TURNOUT_TOKEN\n"},
		{nil, []string{"store", "backup", "--addr", tt.admin, filepath.Join(t.TempDir(), "b.db")}, "turnout: unauthorized: this turnout requires an API token: give it with --token or TURNOUT_TOKEN\n"},
	} {
		args := tc.args
		if args[0] == "gateway" {
			args = append(args, "--addr", tt.admin)
		}
		var out, errb bytes.Buffer
		code := runTurnout(t, append([]string{"TURNOUT_TOKEN="}, tc.env...), &out, &errb, args...)
		if code != 1 || errb.String() != tc.want {
			t.Errorf("%v %v: exit %d, stderr %q, want 1 and %q", tc.env, args, code, errb.String(), tc.want)
		}
	}
	if out, code := tt.cli("gateway", "list", "--token", "s3cret-flag-token"); code != 0 {
		t.Fatalf("with the token: exit %d %s", code, out)
	}
}
