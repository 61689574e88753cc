package condition

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// TestAgainstHAProxy runs a real HAProxy (when one is installed) on
// 127.0.0.1 with the ACLs each condition stands for, as Vamp wrote them
// (HaProxyAclResolver.scala: the ACL per operand, "!" for a negation,
// blanks for "and", "or"), and checks that Turnout's matcher and HAProxy
// answer alike for every request of the table. It is the reference for
// "matches exactly what Vamp's generated HAProxy ACLs matched".
func TestAgainstHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin := testnet.Tool(t, "haproxy", "apt-get install -y haproxy")
	conds := []string{
		"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp",
		"not <hdr_sub(user-agent) Android> and User-Agent != Chrome",
		"header page contains 1", "header page misses 1", "cookie vamp has 123",
		"misses cookie vamp", "has cookie vamp", "misses header page", "has header page",
		`user-agent == "Mozilla/5.0 (iPhone"`,
	}
	for _, a := range []string{"chrome", "Firefox", "SAFARI", "edge", "ie"} {
		conds = append(conds, "user-agent == "+a, "user-agent != "+a)
	}
	for _, h := range []string{"shop.example.com", "shop.example.com:8080", "SHOP.example.com", "[::1]:8080", `"shop.example.com www.shop.example.com"`} {
		conds = append(conds, "host == "+h, "host has "+h, "host misses "+h)
	}
	for _, tc := range aclFormCases {
		conds = append(conds, tc.cond)
	}
	conds = append(conds, "cook_end(grp) -- -2", "cook_end(grp) 2", "cook_len(grp) 6", "cook_dom(grp) beta", "cook_dir(grp) beta",
		"hdr_len(host) 15", "hdr_dir(x-group) beta", "path_dom api", "urlp_end(lang) e", "urlp_sub(lang) -i E",
		"urlp_reg(lang) ^d", "urlp_len(lang) 2", "urlp_dom(lang) de", "hdr(x-group) -m sub -i ALPHA",
		"hdr_cnt(x-group) gt 1 lt 1", "hdr_cnt(x-group) 2:3", "hdr(x-group) b", `hdr(x-group) '"a,b"'`, "hdr(x-group) c",
		"hdr_cnt(x-group) 2", "req.fhdr(x-group) -m end c", "hdr_beg(accept-language) en-US", "hdr(accept-language) -m beg en;")

	var reqs []*testRequest
	for _, b := range browsers {
		reqs = append(reqs, newRequest("shop.example.com", "GET", "/", "", "h:User-Agent="+b.ua, "c:vamp=a123"))
	}
	for _, h := range []string{"shop.example.com:8080", "SHOP.example.com", "[::1]:8080", "www.shop.example.com", "10.0.0.1"} {
		reqs = append(reqs, newRequest(h, "GET", "/x", "", "h:User-Agent=curl/8.5.0", "h:Page=x1y"))
	}
	reqs = append(reqs, aclRequests["A"], aclRequests["B"],
		newRequest("a", "GET", "/", "", "h:User-Agent=Mozilla/5.0 (Linux; Android 14) Chrome/120", "h:Page=2", "c:vamp=9"),
		newRequest("a", "GET", "/de/api/x", "", `h:X-Group="a,b", c`, "h:Accept-Language=en-US,en;q=0.5", "c:grp=x.beta/2", "q:lang=d.e"))

	// One "http-request return" per and-term, guarded by the case number.
	var cfg strings.Builder
	port := testnet.FreePort(t)
	fmt.Fprintf(&cfg, "defaults\n  mode http\n  timeout client 10s\n  timeout server 10s\n  timeout connect 10s\nfrontend f\n  bind 127.0.0.1:%d\n", port)
	matchers := make([]*Matcher, len(conds))
	for i, c := range conds {
		m, err := Compile(c)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c, err)
		}
		matchers[i] = m
		dnf, ok := haproxyDNF(m.root)
		if !ok {
			t.Fatalf("%q has no HAProxy form", c)
		}
		for _, and := range dnf {
			fmt.Fprintf(&cfg, "  http-request return status 200 if { req.hdr(x-case) -m str %d } %s\n", i, strings.Join(and, " "))
		}
	}
	cfg.WriteString("  http-request return status 404\n")
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg.String())
	}
	cmd := exec.Command(bin, "-db", "-f", file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testnet.Eventually(t, 10*time.Second, "haproxy listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	client := &http.Client{Timeout: 10 * time.Second}
	local := netip.MustParseAddr("127.0.0.1")
	for _, r := range reqs {
		rr := *r
		rr.src = local // what HAProxy sees
		for i, m := range matchers {
			got := m.Match(&rr)
			if want := askHAProxy(t, client, addr, i, &rr); got != want {
				t.Errorf("%q on %s %s Host %q %v: Turnout %v, HAProxy %v", conds[i], rr.method, rr.path, rr.host, rr.headers, got, want)
			}
		}
	}
	t.Logf("%d conditions × %d requests compared with %s", len(conds), len(reqs), bin)
}

// askHAProxy sends r with X-Case: i and reports whether HAProxy matched.
func askHAProxy(t *testing.T, c *http.Client, addr string, i int, r *testRequest) bool {
	t.Helper()
	u := "http://" + addr + string(r.path)
	if len(r.query) > 0 {
		q := url.Values{}
		for _, kv := range r.query {
			q.Add(string(kv.k), string(kv.v))
		}
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(string(r.method), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = string(r.host)
	req.Header.Set("User-Agent", "") // none unless the request has one
	for _, h := range r.headers {
		req.Header.Set(string(h.k), string(h.v))
	}
	var cookies []string
	for _, c := range r.cookies {
		cookies = append(cookies, string(c.k)+"="+string(c.v))
	}
	if cookies != nil {
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	req.Header.Set("X-Case", fmt.Sprint(i))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// haproxyDNF writes a tree as HAProxy condition terms: an or of ands of
// "[!]{ acl }", with Vamp's ACLs for presence tests.
func haproxyDNF(n node) ([][]string, bool) {
	switch n := n.(type) {
	case *leaf:
		var acls []string
		switch {
		case n.test == testACL:
			for _, a := range n.acls {
				acls = append(acls, "{ "+a.text+" }")
			}
		case n.test == testPresent && n.subj == subjHeader:
			acls = []string{"{ req.hdr_cnt(" + string(n.name) + ") gt 0 }"}
		case n.test == testPresent && n.subj == subjCookie:
			acls = []string{"{ req.cook(" + string(n.name) + ") -m found }"}
		default:
			return nil, false
		}
		if !n.neg {
			return [][]string{acls}, true
		}
		var or [][]string // not (a and b) is !a or !b
		for _, a := range acls {
			or = append(or, []string{"!" + a})
		}
		return or, true
	case orNode:
		var or [][]string
		for _, k := range n {
			d, ok := haproxyDNF(k)
			if !ok {
				return nil, false
			}
			or = append(or, d...)
		}
		return or, true
	case andNode:
		or := [][]string{nil}
		for _, k := range n {
			d, ok := haproxyDNF(k)
			if !ok {
				return nil, false
			}
			var next [][]string
			for _, x := range or {
				for _, y := range d {
					next = append(next, append(append([]string(nil), x...), y...))
				}
			}
			or = next
		}
		return or, true
	case notNode:
		return nil, false
	}
	return nil, false
}
