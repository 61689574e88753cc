package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/testnet"
)

// TestVampConditionsEndToEnd routes through the real binary by a Vamp
// user-agent alias in lower case (user-agents.yml, looked up in upper case
// by HaProxyAclResolver.scala), Vamp's host (the whole Host header, port
// included: "req.hdr(host) VALUE"), Turnout's vhost extension and a raw
// HAProxy ACL in Vamp's "< ... >" form; and refuses an unsupported fetch
// through the API, naming it.
func TestVampConditionsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	def, ie, host, vhost, raw := testnet.Backend(t, "default"), testnet.Backend(t, "ie"), testnet.Backend(t, "host"),
		testnet.Backend(t, "vhost"), testnet.Backend(t, "raw")
	port := testnet.FreePort(t)
	tt := start(t, fmt.Sprintf(`name: forms
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
    condition: user-agent == ie
  "[%s]":
    weight: 0%%
    condition: host == shop.example.com:%d
  "[%s]":
    weight: 0%%
    condition: vhost == api.example.com
  "[%s]":
    weight: 0%%
    condition: < path_beg -i /IMG/ > and not < hdr_sub(user-agent) MSIE >
`, port, def, ie, host, port, vhost, raw))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	const (
		ie8  = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"
		ie11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
	)
	for _, tc := range []struct {
		name, path, host, ua, want string
	}{
		{"ie alias matches MSIE", "/", "a", ie8, "ie"},
		{"ie alias does not match IE 11 (no MSIE)", "/", "a", ie11, "default"},
		{"host with port", "/", fmt.Sprintf("shop.example.com:%d", port), "curl/8", "host"},
		{"host in another case", "/", fmt.Sprintf("Shop.example.com:%d", port), "curl/8", "default"},
		{"vhost ignores case and port", "/", "API.example.com:8080", "curl/8", "vhost"},
		{"raw ACL", "/img/a.png", "a", "curl/8", "raw"},
		{"raw ACL negated", "/img/a.png", "a", ie8, "ie"},
	} {
		req, _ := http.NewRequest("GET", url+tc.path, nil)
		req.Host = tc.host
		req.Header.Set("User-Agent", tc.ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Backend"); got != tc.want {
			t.Errorf("%s: went to %q, want %q", tc.name, got, tc.want)
		}
	}

	status, _, body := apiCall(t, "PUT", "http://"+tt.admin+"/api/v1/gateways/forms", "application/x-yaml",
		fmt.Sprintf("name: forms\nport: %d/http\nroutes:\n  \"[%s]\":\n    condition: hdr_ip(x-forwarded-for) 10.0.0.0/8\n", port, def))
	if status != 400 || !strings.Contains(body, `unsupported HAProxy fetch \"hdr_ip\"`) {
		t.Errorf("unsupported fetch: %d %s, want 400 naming hdr_ip", status, body)
	}
}
