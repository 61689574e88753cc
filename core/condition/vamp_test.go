package condition

import (
	"slices"
	"strings"
	"testing"
)

// Tests of Vamp's meaning, each written from a file of magneticio/vamp:
//   - model/src/main/scala/io/vamp/model/parser/ConditionDefinitionParser.scala
//     and its ConditionDefinitionParserSpec.scala (the grammar);
//   - haproxy/src/main/scala/io/vamp/gateway_driver/haproxy/HaProxyAclResolver.scala
//     and its HaProxyAclResolverSpec.scala (the ACL each operand becomes);
//   - haproxy/src/main/resources/io/vamp/gateway_driver/haproxy/user-agents.yml
//     (the user-agent aliases).

// Real browser User-Agent strings.
var browsers = []struct{ name, ua string }{
	{"chrome-win", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"},
	{"firefox-win", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"},
	{"safari-mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"},
	{"safari-iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"},
	{"edge-legacy", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582"},
	{"edge-chromium", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"},
	{"ie8", "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"},
	{"ie11", "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"},
	{"chrome-ios", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"},
	{"firefox-ios", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15"},
	{"android-webview", "Mozilla/5.0 (Linux; Android 10; K; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36"},
	{"samsung", "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"},
	{"curl", "curl/8.5.0"},
}

// TestUserAgentAliases: user-agents.yml maps each alias (looked up in upper
// case, HaProxyAclResolver.expandUserAgent) to case-sensitive substrings:
// Chrome, Firefox, Edge, MSIE, and Safari AND Version. So modern Edge
// ("Edg/") is not "Edge" but is "Chrome", IE 11 (no "MSIE") is not "IE",
// Chrome and Firefox on iOS (CriOS, FxiOS) are neither, and Android's
// WebView ("Version/4.0 ... Safari") is both Chrome and Safari.
func TestUserAgentAliases(t *testing.T) {
	for _, tc := range []struct {
		alias string
		match []string
	}{
		{"Chrome", []string{"chrome-win", "edge-legacy", "edge-chromium", "android-webview", "samsung"}},
		{"Firefox", []string{"firefox-win"}},
		{"Safari", []string{"safari-mac", "safari-iphone", "android-webview"}},
		{"Edge", []string{"edge-legacy"}},
		{"IE", []string{"ie8"}},
	} {
		for _, spelling := range []string{tc.alias, strings.ToLower(tc.alias), strings.ToUpper(tc.alias), `"` + strings.ToLower(tc.alias) + `"`} {
			for _, form := range []struct {
				op  string
				neg bool
			}{{"==", false}, {"=", false}, {"is", false}, {"has", false}, {"contains", false}, {"!=", true}, {"!", true}, {"not", true}, {"misses", true}} {
				cond := "user-agent " + form.op + " " + spelling
				m, err := Compile(cond)
				if err != nil {
					t.Fatalf("Compile(%q): %v", cond, err)
				}
				for _, b := range browsers {
					want := slices.Contains(tc.match, b.name) != form.neg
					if got := m.Match(newRequest("a", "GET", "/", "", "h:User-Agent="+b.ua)); got != want {
						t.Errorf("%q on %s: %v, want %v", cond, b.name, got, want)
					}
				}
			}
		}
	}
	// Not an alias: a case-sensitive substring ("req.fhdr(User-Agent) -m sub 'VALUE'").
	for _, tc := range []struct {
		cond  string
		match []string
	}{
		{"user-agent == Mobile", []string{"safari-iphone", "chrome-ios", "firefox-ios", "android-webview", "samsung"}},
		{"user-agent == mobile", nil},
		{"User-Agent = Trident", []string{"ie8", "ie11"}},
		{"user.agent is Edg/", []string{"edge-chromium"}},
		{"useragent == 'like Gecko) Version'", []string{"safari-mac", "safari-iphone", "android-webview"}},
		{"user-agent == MSIE", []string{"ie8"}},
	} {
		m, err := Compile(tc.cond)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.cond, err)
		}
		for _, b := range browsers {
			want := slices.Contains(tc.match, b.name)
			if got := m.Match(newRequest("a", "GET", "/", "", "h:User-Agent="+b.ua)); got != want {
				t.Errorf("%q on %s: %v, want %v", tc.cond, b.name, got, want)
			}
		}
	}
}

// TestHostForms: Host(value) becomes "req.hdr(host) value"
// (HaProxyAclResolver.scala), HAProxy's default exact, case-sensitive
// string match on the whole header, port included; and the parser maps
// ==, =, is, has and contains to Host(value), and !=, !, not and misses to
// its negation (ConditionDefinitionParserSpec "resolve host"). vhost is
// Turnout's extension: port dropped, case ignored, has a substring.
func TestHostForms(t *testing.T) {
	hosts := []string{"shop.example.com", "shop.example.com:8080", "SHOP.example.com", "www.shop.example.com", "[::1]:8080", "10.0.0.1", ""}
	for _, tc := range []struct {
		cond  string
		match []string
	}{
		{"host == shop.example.com", []string{"shop.example.com"}},
		{"host = shop.example.com", []string{"shop.example.com"}},
		{"host is shop.example.com", []string{"shop.example.com"}},
		{"host has shop.example.com", []string{"shop.example.com"}},
		{"host contains shop.example.com", []string{"shop.example.com"}},
		{"host has shop", nil},
		{"host == shop.example.com:8080", []string{"shop.example.com:8080"}},
		{"host == SHOP.example.com", []string{"SHOP.example.com"}},
		{"host == [::1]:8080", []string{"[::1]:8080"}},
		{"host == 10.0.0.1", []string{"10.0.0.1"}},
		{"host != shop.example.com", []string{"shop.example.com:8080", "SHOP.example.com", "www.shop.example.com", "[::1]:8080", "10.0.0.1", ""}},
		{"host misses shop.example.com", []string{"shop.example.com:8080", "SHOP.example.com", "www.shop.example.com", "[::1]:8080", "10.0.0.1", ""}},
		{"not host is shop.example.com", []string{"shop.example.com:8080", "SHOP.example.com", "www.shop.example.com", "[::1]:8080", "10.0.0.1", ""}},
		{"vhost == shop.example.com", []string{"shop.example.com", "shop.example.com:8080", "SHOP.example.com"}},
		{"vhost == ::1", []string{"[::1]:8080"}},
		{"vhost has shop", []string{"shop.example.com", "shop.example.com:8080", "SHOP.example.com", "www.shop.example.com"}},
		{"vhost == shop.example.com:8080", []string{"shop.example.com:8080"}},
		{"vhost misses example", []string{"[::1]:8080", "10.0.0.1", ""}},
	} {
		m, err := Compile(tc.cond)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.cond, err)
		}
		for _, h := range hosts {
			want := slices.Contains(tc.match, h)
			if got := m.Match(newRequest(h, "GET", "/", "")); got != want {
				t.Errorf("%q on Host %q: %v, want %v", tc.cond, h, got, want)
			}
		}
	}
}

// TestVampGeneratedACLs compiles HaProxyAclResolverSpec's conditions and
// checks the ACLs Turnout evaluates are the ones Vamp generated.
func TestVampGeneratedACLs(t *testing.T) {
	for _, tc := range []struct {
		cond string
		acls []string
	}{
		{"User-Agent is Firefox", []string{"req.fhdr(User-Agent) -m sub 'Firefox'"}},
		{"User-Agent is Safari", []string{"req.fhdr(User-Agent) -m sub 'Safari'", "req.fhdr(User-Agent) -m sub 'Version'"}},
		{"host == localhost", []string{"req.hdr(host) localhost"}},
		// Vamp wrote req.cook_sub(vamp) 123, which HAProxy refuses
		// ("unknown fetch method 'req.cook_sub'", haproxy -c 2.6): cook_sub
		// is the fetch it meant.
		{"cookie vamp has 123", []string{"cook_sub(vamp) 123"}},
		{"header page contains 1", []string{"req.fhdr(page) -m sub '1'"}},
		{"hdr_sub(user-agent) Android", []string{"hdr_sub(user-agent) Android"}},
		{"< hdr_sub(user-agent) Android >", []string{"hdr_sub(user-agent) Android"}},
		{`User-Agent == "Mozilla/5.0 Macintosh"`, []string{"req.fhdr(User-Agent) -m sub 'Mozilla/5.0 Macintosh'"}},
		{"User-Agent = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_5) AppleWebKit/602.2.14 (KHTML, like Gecko) Version/10.0.1 Safari/602.2.14'",
			[]string{"req.fhdr(User-Agent) -m sub 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_5) AppleWebKit/602.2.14 (KHTML, like Gecko) Version/10.0.1 Safari/602.2.14'"}},
	} {
		m, err := Compile(tc.cond)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.cond, err)
		}
		l, ok := m.root.(*leaf)
		if !ok || l.test != testACL || len(l.acls) != len(tc.acls) {
			t.Fatalf("Compile(%q): root %#v, want one leaf of %d ACLs", tc.cond, m.root, len(tc.acls))
		}
		for i, want := range tc.acls {
			ww, _ := haproxyWords(want)
			gw, _ := haproxyWords(l.acls[i].text)
			if !slices.Equal(ww, gw) {
				t.Errorf("Compile(%q) ACL %d = %q, want %q", tc.cond, i, l.acls[i].text, want)
			}
		}
	}
}

// TestVampParserSpec runs ConditionDefinitionParserSpec's inputs: each
// parses, and to the same tree as the canonical form given.
func TestVampParserSpec(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"user-agent == a and user-agent != b", "user-agent has a and user-agent misses b"},
		{"user-agent == a and not user-agent == b", "user-agent has a and user-agent misses b"},
		{"<water ⇒ ice>", ""}, // parses in Vamp, but "water" is no HAProxy fetch: see TestACLErrors
		{"User-Agent==Firefox", "user-agent has Firefox"},
		{"User-Agent== Firefox ", "user-agent has Firefox"},
		{" User-Agent ! Firefox ", "user-agent misses Firefox"},
		{"user.agent != Firefox", "user-agent misses Firefox"},
		{"User-Agent not Firefox", "user-agent misses Firefox"},
		{" ( User-Agent == Firefox ) ", "user-agent has Firefox"},
		{"host is localhost", "host == localhost"},
		{"host not localhost", "host != localhost"},
		{"host misses localhost", "host != localhost"},
		{"host contains localhost", "host == localhost"},
		{"! host is localhost", "host != localhost"},
		{"not host is localhost", "host != localhost"},
		{"contains cookie vamp", "has cookie vamp"},
		{"misses header vamp", "misses header vamp"},
		{"cookie vamp misses 12345", "cookie vamp misses 12345"},
		{"header vamp contains 12345", "header vamp has 12345"},
		// Names end where Vamp's String rule ends them: at a blank or a
		// parenthesis, so "&&" and "|" belong to the name.
		{"has header X&&Y", "has header X&&Y"},
		{"has cookie a|b or has header c", "has cookie a|b or has header c"},
		{"header a&b has c|d", "header a&b has c|d"},
	} {
		m, err := Compile(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("Compile(%q) = %q, want an error", tc.in, m)
			}
			continue
		}
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.in, err)
			continue
		}
		if got := m.String(); got != tc.want {
			t.Errorf("Compile(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
	// The names really are those.
	m, _ := Compile("has header X&&Y")
	if !m.Match(newRequest("a", "GET", "/", "", "h:X&&Y=1")) || m.Match(newRequest("a", "GET", "/", "", "h:X=1", "h:Y=1")) {
		t.Error(`"has header X&&Y" should test the header named X&&Y`)
	}
}
