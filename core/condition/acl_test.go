package condition

import (
	"strings"
	"testing"
)

// aclRequests are the requests of TestACLForms: A and B.
var aclRequests = map[string]*testRequest{
	"A": newRequest("www.example.com", "GET", "/api/v1/items", "10.1.2.3",
		"h:X-Group=alpha, beta", "h:User-Agent="+uaChrome, "h:Accept=text/html",
		"c:grp=beta-2", "q:lang=de"),
	"B": newRequest("Static.Example.com:8080", "POST", "/img/logo.png", "192.168.1.9",
		"h:X-Group=gamma", "h:X-Flag=-i"),
}

// TestACLForms: HAProxy's ACL fetches, flags and conditions (HAProxy
// configuration manual, section 7), alone, as Vamp's "< ... >", as text
// Vamp could not parse (HaProxyAclResolverSpec: "hdr_sub(user-agent)
// Android") and in braces as in Vamp's rewrites.
func TestACLForms(t *testing.T) {
	for _, tc := range aclFormCases {
		m, err := Compile(tc.cond)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.cond, err)
			continue
		}
		for name, r := range aclRequests {
			want := strings.Contains(tc.match, name)
			if got := m.Match(r); got != want {
				t.Errorf("Compile(%q).Match(%s) = %v, want %v", tc.cond, name, got, want)
			}
		}
		checkRoundTrip(t, tc.cond, m)
	}
}

var aclFormCases = []struct{ cond, match string }{
	{"hdr(x-group) beta", "A"}, // hdr splits the value at commas
	{"hdr(X-Group) alpha", "A"},
	{"req.fhdr(x-group) beta", ""}, // req.fhdr does not
	{"req.fhdr(x-group) -m sub beta", "A"},
	{"req.hdr(host) www.example.com", "A"},
	{"hdr(host) static.example.com:8080", ""},
	{"hdr(host) -i static.example.com:8080", "B"},
	{"hdr_beg(host) www.", "A"},
	{"hdr_beg(host) static.", ""},
	{"hdr_beg(host) -i static.", "B"},
	{"hdr_end(host) :8080", "B"},
	{"hdr_sub(user-agent) Chrome", "A"},
	{"hdr_sub(user-agent) chrome", ""},
	// hdr splits at commas, so a User-Agent's "(KHTML, like Gecko)" is
	// two values (checked against HAProxy 2.6); req.fhdr does not split.
	{"hdr_sub(user-agent) 'KHTML, like'", ""},
	{"req.fhdr(user-agent) -m sub 'KHTML, like'", "A"},
	{`hdr_reg(host) ^[a-z]+\.example\.com$`, "A"},
	{`hdr_reg(host) -i ^static\.`, "B"},
	{"hdr_dom(host) example", "A"}, // case-sensitive: B is Static.Example.com
	{"hdr_cnt(x-group) gt 1", "A"},
	{"hdr_cnt(x-group) eq 1", "B"},
	{"hdr_cnt(x-group) 1", "B"},
	{"hdr_cnt(x-missing) eq 0", "AB"},
	{"req.hdr_cnt(x-group) 2:", "A"},
	{"hdr(x-group) -m found", "AB"},
	{"hdr(x-missing) -m found", ""},
	{"hdr(x-flag) -- -i", "B"},
	{"path /api/v1/items", "A"},
	{"path_beg /api/ /img/", "AB"},
	{"path_beg -i /API", "A"},
	{"path_end .png", "B"},
	{"path_sub v1", "A"},
	{"path_reg ^/api/v[0-9]+/", "A"},
	{"path_dir img", "B"},
	{"path_len 13", "AB"},
	{"path_len lt 13", ""},
	{"path -m sub -i IMG", "B"},
	{"hdr(host) -m beg www", "A"},
	{"hdr(host) -m end -i .COM", "A"},
	{"hdr(host) -m len 15", "A"},
	{"hdr(host) -m dom example.com", "A"},
	{"hdr(host) -m dom -i example.com", "AB"},
	{"url_param(lang) de", "A"},
	{"url_param(lang) -i DE", "A"},
	{"urlp(lang) -m found", "A"},
	{"urlp_beg(lang) d", "A"},
	{"cook(grp) beta-2", "A"},
	{"cook_sub(grp) beta", "A"},
	{"cook_beg(grp) -i BETA", "A"},
	{"cook_reg(grp) ^beta-[0-9]$", "A"},
	{"cook_cnt(grp) eq 0", "B"},
	{"req.cook(grp) -m found", "A"},
	{"src 10.0.0.0/8", "A"},
	{"src 192.168.1.9 10.0.0.0/8", "AB"},
	{"method GET", "A"},
	{"method get", ""},
	{"method -i get", ""}, // HAProxy compares known methods by identity
	{"method POST GET", "AB"},
	{"method -i post", ""}, // B is POST: -i folds only methods HAProxy does not know

	// Conditions: blanks are "and", or and || "or", ! negates.
	{"{ path_beg /api } { method GET }", "A"},
	{"{ path_beg /api } || { method POST }", "AB"},
	{"{ path_beg /api } or { method POST }", "AB"},
	{"!{ src 10.0.0.0/8 }", "B"},
	{"! { src 10.0.0.0/8 } { method POST }", "B"},
	{"{ path_beg /img } or !{ hdr(x-group) beta }", "B"},
	{"{ method GET } { path_beg /img } || { method POST }", "B"},

	// Vamp's < ... > inside the DSL.
	{"< path_beg /img > or user-agent == chrome", "AB"},
	{"not <hdr_sub(user-agent) Chrome> and has header x-group", "B"},
	{"<hdr_sub(user-agent) Android> or <hdr_sub(user-agent) Chrome>", "A"},
}

// TestACLErrors: what is not supported is refused, naming the fetch or
// flag.
func TestACLErrors(t *testing.T) {
	for _, tc := range []struct{ cond, err string }{
		{"hdr_ip(x-forwarded-for) 10.0.0.0/8", `unsupported HAProxy fetch "hdr_ip"`},
		{"ssl_fc", `unsupported HAProxy fetch "ssl_fc"`},
		{"fhdr(user-agent) x", `unsupported HAProxy fetch "fhdr"`}, // HAProxy 2.6 has req.fhdr only
		{"<water ⇒ ice>", `unsupported HAProxy fetch "water"`},
		{"path_beg -f /etc/paths", `unsupported HAProxy flag "-f"`},
		{"hdr(host) -u 1 a", `unsupported HAProxy flag "-u"`},
		{"hdr(host) -m bin 41", `unsupported HAProxy match method "-m bin" for hdr`},
		{"cook_cnt(x) -m sub a", `unsupported HAProxy match method "-m sub" for cook_cnt`},
		{"hdr(host),lower www", `HAProxy converters are not supported: "lower"`},
		{"hdr(host,1) a", `HAProxy fetch hdr needs exactly one argument`},
		{"url_param(a,;) x", `HAProxy fetch url_param needs exactly one argument`},
		{"path(x) /", `HAProxy fetch path takes no argument`},
		{"{ path_beg /a", `missing "}"`},
		{"{ path_beg /a } || my_acl", `named ACL "my_acl" is not defined here`},
		{"src 10.0.0/8", `"10.0.0/8" is not an IP address or CIDR prefix`},
		{"path_reg a(", `invalid regular expression "a("`},
		{"hdr_cnt(a) gt x", `"x" is not an integer`},
		{"hdr(a) -m found x", `-m found takes no pattern`},
		{"hdr_sub(user-agent) 'Chrome", `unmatched single quote`},
		{"< hdr_sub(user-agent) Chrome", `position 29: expected ">" to close the HAProxy ACL opened at position 1, found end of input`},
		{"host == a or < hdr(x) -m bin 1 >", `position 14: HAProxy ACL: unsupported HAProxy match method "-m bin"`},
		{"< >", `empty HAProxy ACL`},
		// Text that reads as the DSL keeps the DSL's error.
		{"path ==", `expected a value after "==", found end of input`},
		{"method is", `expected a value after "is", found end of input`},
	} {
		_, err := Compile(tc.cond)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Compile(%q) error = %v, want one containing %q", tc.cond, err, tc.err)
		}
		if _, ok := err.(*SyntaxError); err != nil && !ok {
			t.Errorf("Compile(%q) error is %T, want *SyntaxError", tc.cond, err)
		}
	}
}

// TestACLMatchDoesNotAllocate keeps the ACL forms allocation-free.
func TestACLMatchDoesNotAllocate(t *testing.T) {
	m, err := Compile("{ hdr(x-group) beta } { hdr_cnt(x-group) gt 1 } { path_beg /api } { cook_sub(grp) beta } " +
		"{ url_param(lang) -i DE } { src 10.0.0.0/8 } { method GET } { hdr_dom(host) example } { path_reg ^/api/v[0-9] } || { req.fhdr(user-agent) -m sub x }")
	if err != nil {
		t.Fatal(err)
	}
	r := aclRequests["A"]
	if !m.Match(r) {
		t.Fatal("no match")
	}
	if n := testing.AllocsPerRun(100, func() { m.Match(r) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}
