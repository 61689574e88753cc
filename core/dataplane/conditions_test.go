package dataplane_test

import (
	"testing"

	"github.com/turnout/turnout/core/dataplane"
	"github.com/turnout/turnout/core/engine"
)

// TestConditionForms routes real requests by Vamp's condition forms and
// raw HAProxy ACLs: a user-agent alias (user-agents.yml: Safari means
// "Safari" and "Version"), Vamp's host (the whole Host header, port
// included, exact: HaProxyAclResolver.scala "req.hdr(host) VALUE"), and an
// HAProxy condition; and rewrites by an HAProxy ACL as Vamp's rewrites
// wrote them ("NEW if { COND }", HaProxyGatewayMarshaller.scala).
func TestConditionForms(t *testing.T) {
	t.Parallel()
	def, safari, host, raw := newRecorder(t), newRecorder(t), newRecorder(t), newRecorder(t)
	doc := "name: forms\nport: {{port}}\nroutes:\n" +
		"  " + route(def.addr) + ":\n    weight: 100%\n" +
		"    rewrites:\n      - path: \"/v2%[path] if { path_beg /api } !{ method POST }\"\n" +
		"  " + route(safari.addr) + ":\n    weight: 0%\n    condition: user-agent == safari\n" +
		"  " + route(host.addr) + ":\n    weight: 0%\n    condition: host == shop.example.com:8080\n" +
		"  " + route(raw.addr) + ":\n    weight: 0%\n    condition: \"{ path_beg /img } || { hdr_sub(x-group) beta }\"\n"
	g := startGateway(t, doc, dataplane.Options{}, engine.Options{})
	const (
		safariUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"
		chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	)
	for _, tc := range []struct {
		name, method, target, headers string
		to                            *recorder
		path                          string // as the backend saw it
	}{
		{"safari alias", "GET", "/", "Host: a\r\nUser-Agent: " + safariUA + "\r\n", safari, "/"},
		{"chrome is not safari", "GET", "/", "Host: a\r\nUser-Agent: " + chromeUA + "\r\n", def, "/"},
		{"host with its port", "GET", "/x", "Host: shop.example.com:8080\r\n", host, "/x"},
		{"host without the port", "GET", "/x", "Host: shop.example.com\r\n", def, "/x"},
		{"host in other case", "GET", "/x", "Host: SHOP.example.com:8080\r\n", def, "/x"},
		{"raw ACL path_beg", "GET", "/img/a.png", "Host: a\r\n", raw, "/img/a.png"},
		{"raw ACL hdr_sub over comma-separated values", "GET", "/", "Host: a\r\nX-Group: alpha, beta\r\n", raw, "/"},
		{"rewrite by raw ACL", "GET", "/api/items?x=1", "Host: a\r\n", def, "/v2/api/items?x=1"},
		{"rewrite refused by !{ method POST }", "POST", "/api/items", "Host: a\r\nContent-Length: 0\r\n", def, "/api/items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.to.requests())
			resps := parseResponses(t, exchange(t, g.addr, tc.method+" "+tc.target+" HTTP/1.1\r\n"+tc.headers+"Connection: close\r\n\r\n"))
			if len(resps) != 1 || resps[0].Status != 200 {
				t.Fatalf("client got %d responses, first %+v", len(resps), resps)
			}
			reqs := tc.to.requests()
			if len(reqs) != before+1 {
				t.Fatalf("the expected route's backend saw %d new requests, want 1", len(reqs)-before)
			}
			if got := reqs[before].Target; got != tc.path {
				t.Errorf("backend saw %s, want %s", got, tc.path)
			}
			if m := reqs[before].Method; m != tc.method {
				t.Errorf("backend saw method %s, want %s", m, tc.method)
			}
		})
	}
}
