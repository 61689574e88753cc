package dataplane_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/internal/testnet"
)

// cookieEchoBackend answers with its name in X-Backend and the Cookie
// header it received in X-Got-Cookie.
func cookieEchoBackend(t *testing.T, name string) string {
	t.Helper()
	return testnet.HandlerBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Got-Cookie", strings.Join(r.Header.Values("Cookie"), " | "))
		io.WriteString(w, name)
	}))
}

func getWithCookies(t *testing.T, addr string, cookies ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.Header.Add("Cookie", c)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// A cookie condition finds its cookie among a browser's others, in either
// of two Cookie headers, and not inside another cookie's name or value; the
// Cookie headers reach the endpoint as they were sent.
func TestCookieConditionAmongBrowserCookies(t *testing.T) {
	a, b := cookieEchoBackend(t, "a"), cookieEchoBackend(t, "b")
	g := startGateway(t, fmt.Sprintf(`name: web
port: "{{port}}/http"
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
    condition: "cookie group has beta"
    condition_strength: 100%%
`, a, b), dataplane.Options{}, engine.Options{})
	ga := "_ga=GA1.1.1000000.1700000000; _gid=GA1.1.2000000.1700000000; theme=dark"
	tests := []struct {
		cookies []string
		want    string
	}{
		{[]string{ga + "; group=beta-2"}, "b"},
		{[]string{"group=beta-2; " + ga}, "b"},
		{[]string{ga + `; group="beta"`}, "b"},
		{[]string{ga, "group=beta"}, "b"}, // a second Cookie header
		{[]string{ga + "; group=alpha"}, "a"},
		{[]string{ga + "; xgroup=beta"}, "a"},
		{[]string{ga + "; group=; other=beta"}, "a"},
		{[]string{"theme=group=beta"}, "a"},                // in another cookie's value
		{[]string{`prefs={"lang":"nl"}; group=beta`}, "b"}, // a value fasthttp would drop
		{nil, "a"},
	}
	for _, tc := range tests {
		resp := getWithCookies(t, g.addr, tc.cookies...)
		if got := resp.Header.Get("X-Backend"); got != tc.want {
			t.Errorf("Cookie %q: routed to %q, want %q", tc.cookies, got, tc.want)
		}
		// Cookies go on exactly as the client sent them: nothing parsed
		// them into a list and wrote them back.
		if want := strings.Join(tc.cookies, " | "); resp.Header.Get("X-Got-Cookie") != want {
			t.Errorf("Cookie %q reached the endpoint as %q", tc.cookies, resp.Header.Get("X-Got-Cookie"))
		}
	}
}

// A sticky gateway's own cookie, found among others, keeps the client on
// its route and is taken out before the request goes on; the client's
// other cookies go on.
func TestStickyCookieAmongOthers(t *testing.T) {
	a, b := cookieEchoBackend(t, "a"), cookieEchoBackend(t, "b")
	g := startGateway(t, fmt.Sprintf(`name: web
port: "{{port}}/http"
sticky: route
routes:
  "[%s]":
    weight: 50%%
  "[%s]":
    weight: 50%%
`, a, b), dataplane.Options{}, engine.Options{})
	first := getWithCookies(t, g.addr)
	route := first.Header.Get("X-Backend")
	var affinity string
	for _, c := range first.Cookies() {
		if c.Name == "turnout_web" {
			affinity = c.Name + "=" + c.Value
		}
	}
	if affinity == "" {
		t.Fatalf("no turnout_web cookie set: %v", first.Header.Values("Set-Cookie"))
	}
	for range 10 {
		resp := getWithCookies(t, g.addr, "a=1; "+affinity+"; b=2")
		if got := resp.Header.Get("X-Backend"); got != route {
			t.Fatalf("with %s: routed to %q, want %q", affinity, got, route)
		}
		if got := resp.Header.Get("X-Got-Cookie"); got != "a=1; b=2" {
			t.Fatalf("the endpoint got Cookie %q, want %q", got, "a=1; b=2")
		}
	}
}
