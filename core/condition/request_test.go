package condition

import (
	"net/netip"
	"strings"
)

// testRequest implements Request over precomputed slices; its methods do not
// allocate, so allocation tests and benchmarks measure Match alone.
type testRequest struct {
	host, method, path []byte
	headers            []kv
	cookies            []kv
	query              []kv
	src                netip.Addr
}

type kv struct{ k, v []byte }

// newRequest builds a request. fields are "h:Name=value" (header),
// "c:name=value" (cookie) or "q:name=value" (query); src may be "".
func newRequest(host, method, path, src string, fields ...string) *testRequest {
	r := &testRequest{host: []byte(host), method: []byte(method), path: []byte(path)}
	if src != "" {
		r.src = netip.MustParseAddr(src)
	}
	for _, f := range fields {
		kind, rest, _ := strings.Cut(f, ":")
		k, v, _ := strings.Cut(rest, "=")
		e := kv{[]byte(k), []byte(v)}
		switch kind {
		case "h":
			r.headers = append(r.headers, e)
		case "c":
			r.cookies = append(r.cookies, e)
		case "q":
			r.query = append(r.query, e)
		default:
			panic("bad field " + f)
		}
	}
	return r
}

func (r *testRequest) Host() []byte   { return r.host }
func (r *testRequest) Path() []byte   { return r.path }
func (r *testRequest) Method() []byte { return r.method }

func (r *testRequest) Source() netip.Addr { return r.src }

func (r *testRequest) Header(name []byte) ([]byte, bool) {
	for i := range r.headers {
		if equalFold(r.headers[i].k, name) {
			return r.headers[i].v, true
		}
	}
	return nil, false
}

func (r *testRequest) Cookie(name []byte) ([]byte, bool) { return lookup(r.cookies, name) }
func (r *testRequest) Query(name []byte) ([]byte, bool)  { return lookup(r.query, name) }

func lookup(s []kv, name []byte) ([]byte, bool) {
	for i := range s {
		if string(s[i].k) == string(name) { // compiled to a comparison, no allocation
			return s[i].v, true
		}
	}
	return nil, false
}

const (
	uaChrome  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	uaFirefox = "Mozilla/5.0 (Windows NT 10.0; rv:121.0) Gecko/20100101 Firefox/121.0"
	uaSafari  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"
	uaIE      = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)"
)

// requests is the fixed set every valid condition is evaluated against,
// keyed by the one-letter names used in the tables.
var requests = []struct {
	name string
	r    *testRequest
}{
	{"C", newRequest("shop.example.com:8080", "GET", "/api/v1/items", "10.1.2.3",
		"h:User-Agent="+uaChrome, "h:X-VAMP-MY-COOL-HEADER=yes", "h:X-Canary=group-a",
		"c:vamp=abc123", "c:theme=dark", "q:q=1", "q:debug=true")},
	{"F", newRequest("SHOP.Example.com", "post", "/login", "::ffff:192.168.1.5",
		"h:user-agent="+uaFirefox, "h:x-canary=group-b",
		"c:session=xyz", "c:vamp=", "q:q=2")},
	{"S", newRequest("[::1]:443", "GET", "/API/v2", "2001:db8::1",
		"h:User-Agent="+uaSafari)},
	{"I", newRequest("legacy.example.com", "GET", "/", "172.16.0.9",
		"h:User-Agent="+uaIE, "h:x-vamp-my-cool-header=",
		"c:vamp=old", "q:q=")},
	{"O", newRequest("api.example.com", "PUT", "/api/v1/items/7", "10.200.0.1",
		"h:User-Agent=MyApp/3.1 IOS 17",
		"c:my cookie=a b", "q:redirect=/a?b=c")},
	{"B", newRequest("", "GET", "/", "")},
}
