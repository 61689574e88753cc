package condition

import (
	"bytes"
	"errors"
	"net/netip"
	"regexp/syntax"
	"strings"
	"testing"
)

// validCases lists conditions with the names of the requests (see requests)
// they match; they must not match any other.
var validCases = []struct {
	cond  string
	match string
}{
	// Vamp's documentation examples.
	{"User-Agent = IOS", "O"},
	{"User-Agent = Chrome AND Has Header X-VAMP-MY-COOL-HEADER", "C"},
	{"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp", "CF"},

	// host: Vamp's "req.hdr(host) VALUE" (HaProxyAclResolver.scala; parser:
	// ConditionDefinitionParserSpec "resolve host"): the whole Host header,
	// port included, exact and case-sensitive, for ==, is, has and contains;
	// !=, not and misses negate it. Blanks separate HAProxy patterns.
	{"host == shop.example.com", ""},
	{"host == shop.example.com:8080", "C"},
	{"host = SHOP.Example.com", "F"},
	{"host is legacy.example.com", "I"},
	{"host has legacy.example.com", "I"},
	{"host contains legacy", ""},
	{"host misses legacy.example.com", "CFSOB"},
	{"host != api.example.com", "CFSIB"},
	{"host not api.example.com", "CFSIB"},
	{"! host is api.example.com", "CFSIB"},
	{"host == [::1]:443", "S"},
	{`host == "api.example.com legacy.example.com"`, "IO"},
	{`host ~ "^(shop|api)\."`, "CO"},

	// vhost (Turnout): no port, ASCII case ignored, has is a substring.
	{"vhost == shop.example.com", "CF"},
	{"vhost = SHOP.EXAMPLE.COM", "CF"},
	{"vhost == ::1", "S"},
	{"vhost is [::1]", "S"},
	{"vhost == shop.example.com:8080", "C"},
	{"vhost != shop.example.com", "SIOB"},
	{"vhost not shop.example.com", "SIOB"},
	{"vhost has example", "CFIO"},
	{"vhost misses EXAMPLE", "SB"},
	{`vhost ~ "^(shop|api)\."`, "CO"},

	// user-agent: substring, case-sensitive, Vamp's aliases.
	{"user-agent == Safari", "S"},
	{"user.agent is IE", "I"},
	{"useragent == MSIE", "I"},
	{"user agent != Firefox", "CSIOB"},
	{"user-agent has Gecko", "CFS"},
	{"user-agent == chrome", "C"},
	{"user-agent == ie", "I"},
	{"user-agent == safari", "S"},
	{"user-agent == msie", ""},
	{`user-agent ~ "Firefox/1[0-9]{2}"`, "F"},
	{"user-agent !~ Mozilla", "OB"},
	{`user-agent ~ "\bIOS\b"`, "O"},
	{`user-agent ~ "(?i)\bmobile\b"`, ""},
	{"user-agent misses Safari", "CFIOB"},
	{`useragent contains "(KHTML, like Gecko)"`, "CS"},

	// header: presence, exact, substring, regexp; names case-insensitive.
	{"has header x-canary", "CF"},
	{"misses header X-Canary", "SIOB"},
	{"header X-Canary == group-a", "C"},
	{"header x-canary has group", "CF"},
	{"header X-Canary != group-a", "FSIOB"},
	{`header X-Canary ~ "-[ab]$"`, "CF"},
	{"header X-VAMP-MY-COOL-HEADER == ''", "I"},
	{"header X-VAMP-MY-COOL-HEADER ! yes", "FSIOB"},
	{`header "X-Canary" == "group-a"`, "C"},
	{`header X-Canary =="group-a"`, "C"},

	// cookie.
	{"has cookie vamp", "CFI"},
	{"misses cookie vamp", "SOB"},
	{"contains cookie theme", "C"},
	{"cookie vamp has abc", "C"},
	{"cookie vamp == old", "I"},
	{"cookie vamp misses abc", "FSIOB"},
	{`cookie "my cookie" == "a b"`, "O"},
	{`cookie vamp == ""`, "F"},

	// path: as sent, case-sensitive.
	{"path == /", "IB"},
	{"path has /api", "CO"},
	{`path ~ "^/api/v[0-9]+/items(/[0-9]+)?$"`, "CO"},
	{"path != /login", "CSIOB"},

	// method: case-insensitive except for regexps.
	{"method == get", "CSIB"},
	{"METHOD is POST", "F"},
	{"method has u", "O"},
	{`method ~ "^P"`, "O"},

	// query.
	{"query q == 1", "C"},
	{"query q != 1", "FSIOB"},
	{"has query q", "CFI"},
	{"misses query q", "SOB"},
	{`query redirect == "/a?b=c"`, "O"},
	{`query q has ""`, "CFI"},

	// src: prefix or single address, IPv4-mapped counts as IPv4.
	{"src == 10.0.0.0/8", "CO"},
	{"src != 10.0.0.0/8", "FSIB"},
	{"src is 192.168.1.5", "F"},
	{"src == 2001:db8::/32", "S"},
	{"src == ::ffff:172.16.0.0/108", "I"},
	{"src contains 172.16.0.0/12", "I"},

	// Precedence, parentheses, negation, symbolic connectors.
	{"host == api.example.com or host == legacy.example.com and method == POST", "O"},
	{"(host == api.example.com or host == legacy.example.com) and method == GET", "I"},
	{"not host == api.example.com", "CFSIB"},
	{"!(has cookie vamp or has query q)", "SOB"},
	{"! ! has cookie vamp", "CFI"},
	{"not (method == GET and path == /)", "CFSO"},
	{"has cookie vamp && path has /api || method is PUT", "CO"},
	{"has cookie vamp & src == 10.0.0.0/8 | user-agent = IE", "CI"},
	{"HOST == shop.example.com:8080 AND NOT Header X-Canary == group-b", "C"},
	{"(host==shop.example.com:8080)and(cookie vamp has abc)", "C"},
	{"vhost == shop.example.com or (user-agent == Safari and (src == 2001:db8::1 or src == 10.0.0.1))", "CFS"},
	{"not not not (host == a or host == b)", "CFSIOB"},

	// Quoting and escaping.
	{"vhost == 'it''s'", ""},
	{`user-agent == "MyApp/3.1 IOS"`, "O"},
	{`header X-Canary == 'group-a' or path == "/"`, "CIB"},
	{"path == \"/login\"\t\n", "F"},
}

func TestMatch(t *testing.T) {
	for _, tc := range validCases {
		m, err := Compile(tc.cond)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.cond, err)
			continue
		}
		for _, rq := range requests {
			want := strings.Contains(tc.match, rq.name)
			if got := m.Match(rq.r); got != want {
				t.Errorf("Compile(%q).Match(%s) = %v, want %v", tc.cond, rq.name, got, want)
			}
		}
		checkProgram(t, tc.cond, m)
	}
}

// evalTree is the reference semantics of the tree: plain recursive
// evaluation, each leaf run as a one-instruction program.
func evalTree(n node, r Request) bool {
	switch n := n.(type) {
	case *leaf:
		return (&Matcher{prog: lowerTree(n)}).Match(r)
	case notNode:
		return !evalTree(n.kid, r)
	case andNode:
		for _, k := range n {
			if !evalTree(k, r) {
				return false
			}
		}
		return true
	case orNode:
		for _, k := range n {
			if evalTree(k, r) {
				return true
			}
		}
		return false
	}
	panic("unknown node")
}

// checkProgram compares the lowered, reordered program with the tree.
func checkProgram(t *testing.T, src string, m *Matcher) {
	t.Helper()
	if len(m.prog) != leaves(m.root) {
		t.Fatalf("Compile(%q): %d instructions for %d leaves", src, len(m.prog), leaves(m.root))
	}
	for _, rq := range requests {
		if got, want := m.Match(rq.r), evalTree(m.root, rq.r); got != want {
			t.Fatalf("Compile(%q).Match(%s) = %v, tree says %v", src, rq.name, got, want)
		}
	}
}

func TestLowering(t *testing.T) {
	m, err := Compile("(host == a or path == /x) and not (method == GET and src == 10.0.0.0/8) and has cookie c")
	if err != nil {
		t.Fatal(err)
	}
	// Cheapest first: has cookie (3) before the "not" (4) before the "or" (6);
	// inside them, path before host and method before src (stable).
	var order []string
	for _, in := range m.prog {
		order = append(order, subjectNames[in.subj])
	}
	if got, want := strings.Join(order, " "), "cookie method src path host"; got != want {
		t.Errorf("evaluation order %q, want %q", got, want)
	}
	for i, in := range m.prog {
		if in.onTrue >= 0 && int(in.onTrue) <= i || in.onFalse >= 0 && int(in.onFalse) <= i {
			t.Errorf("instruction %d jumps backwards: %+v", i, in)
		}
	}
	checkProgram(t, m.String(), m)
}

// TestStringRoundTrip checks that String is canonical: it compiles to a
// matcher that behaves the same and prints the same.
func TestStringRoundTrip(t *testing.T) {
	for _, tc := range validCases {
		m, err := Compile(tc.cond)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.cond, err)
		}
		checkRoundTrip(t, tc.cond, m)
	}
}

func checkRoundTrip(t *testing.T, src string, m *Matcher) {
	t.Helper()
	m2, err := Compile(m.String())
	if err != nil {
		t.Fatalf("Compile(%q) = %q, which does not compile: %v", src, m.String(), err)
	}
	if m2.String() != m.String() {
		t.Fatalf("Compile(%q) = %q, which prints as %q", src, m.String(), m2.String())
	}
	for _, rq := range requests {
		if m.Match(rq.r) != m2.Match(rq.r) {
			t.Fatalf("Compile(%q) and Compile(%q) differ on request %s", src, m.String(), rq.name)
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"User-Agent = Chrome AND Has Header X-VAMP-MY-COOL-HEADER", "user-agent has Chrome and has header X-VAMP-MY-COOL-HEADER"},
		{"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp", "(user-agent has Chrome or user-agent has Firefox) and has cookie vamp"},
		{"host == a || (host == b || host == c)", "host == a or host == b or host == c"},
		{"(host == a && host == b) && host == c", "host == a and host == b and host == c"},
		{"!host is a", "host != a"},
		{"not has cookie x", "misses cookie x"},
		{"!!(host == a and path == b)", "host == a and path == b"},
		{"!(host == a and path == b)", "not (host == a and path == b)"},
		{"cookie vamp contains x", "cookie vamp has x"},
		{"contains header X", "has header X"},
		{"host == ::1", "host == ::1"},
		{"vhost == ::1", "vhost == [::1]"},
		{"host has a", "host == a"},
		{"user-agent is chrome", "user-agent has chrome"},
		{"< hdr_sub(user-agent)   Chrome >", "< hdr_sub(user-agent) Chrome >"},
		{"not <hdr_sub(user-agent) 'a b'> and user-agent != x", "not < hdr_sub(user-agent) 'a b' > and user-agent misses x"},
		{"hdr(host)  -i a", "hdr(host) -i a"},
		{"{ path_beg /a }  !{ src 10.0.0.0/8 } || { method GET }", "{ path_beg /a } !{ src 10.0.0.0/8 } or { method GET }"},
		{"src = 10.1.2.3/8", "src == 10.0.0.0/8"},
		{"src is ::ffff:10.0.0.1", "src == 10.0.0.1"},
		{"vhost == 'it''s'", "vhost == it's"},
		{`host == "a b"`, `host == "a b"`},
		{`host == 'say "hi"'`, `host == "say ""hi"""`},
		{`header 'X A' == ''`, `header "X A" == ""`},
		{`path ~ "^/(a|b)"`, `path ~ "^/(a|b)"`},
		{`path == "'quoted"`, `path == "'quoted"`},
		{"path == a&&b", "path == a&&b"},
	} {
		m, err := Compile(tc.in)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.in, err)
			continue
		}
		if got := m.String(); got != tc.want {
			t.Errorf("Compile(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		checkRoundTrip(t, tc.in, m)
	}
}

var invalidCases = []struct{ cond, err string }{
	{"", `position 1: expected a condition, found end of input`},
	{"  \t", `position 4: expected a condition, found end of input`},
	{"hots == a", `position 1: unknown operand "hots": expected host, vhost, user-agent, header, cookie, path, method, query, src, has, misses or < HAProxy ACL >`},
	{"path == /ü and höst == a", `position 16: unknown operand "höst": expected host, vhost, user-agent, header, cookie, path, method, query, src, has, misses or < HAProxy ACL >`},
	{"user foo == a", `position 1: unknown operand "user": expected host, vhost, user-agent, header, cookie, path, method, query, src, has, misses or < HAProxy ACL >`},
	{"user-agent ==", `position 14: expected a value after "==", found end of input`},
	{"header X-A has", `position 15: expected a value after "has", found end of input`},
	{"(host == a", `position 11: unbalanced parenthesis: expected ")", found end of input`},
	{"((host == a) or path == /", `position 26: unbalanced parenthesis: expected ")", found end of input`},
	{"host == a)", `position 10: unbalanced parenthesis: expected "and", "or" or end of input, found ")"`},
	{"(host == a b)", `position 12: expected "and", "or" or ")", found "b"`},
	{"host == a b", `position 11: expected "and", "or" or end of input, found "b"`},
	{"host == a andpath == b", `position 11: expected "and", "or" or end of input, found "andpath"`},
	{"host a", `position 6: expected "==", "!=", "has", "misses", "~" or "!~" after "host", found "a"`},
	{"cookie vamp", `position 12: expected "==", "!=", "has", "misses", "~" or "!~" after "vamp", found end of input`},
	{"host == a and", `position 14: expected an operand after "and", found end of input`},
	{"host == a or )", `position 14: expected an operand after "or", found ")"`},
	{"not", `position 4: expected an operand after "not", found end of input`},
	{"!", `position 2: expected an operand after "!", found end of input`},
	{"()", `position 2: expected an operand after "(", found ")"`},
	{"== a", `position 1: expected an operand, found "=="`},
	{`"< hdr_sub(user-agent) Chrome >"`, `position 1: a quoted "< ... >" is not an HAProxy ACL: drop the quotes: expected an operand, found "\"<"`},
	{"has foo x", `position 5: expected "cookie", "header" or "query" after "has", found "foo"`},
	{"has header", `position 11: expected a header name after "header", found end of input`},
	// Vamp's lexer: a bare name runs to a blank or parenthesis (String in
	// ConditionDefinitionParser.scala), so "==" here is the name.
	{"header == x", `position 11: expected "==", "!=", "has", "misses", "~" or "!~" after "==", found "x"`},
	{"query == x", `position 10: expected "==", "!=", "has", "misses", "~" or "!~" after "==", found "x"`},
	{`header X-Canary=="group-a"`, `position 27: expected "==", "!=", "has", "misses", "~" or "!~" after "X-Canary==\"group-a\"", found end of input`},
	{"has header a&&has cookie b", `position 19: expected "and", "or" or end of input, found "cookie"`},
	// Vamp writes the value into an HAProxy line, which refuses an open quote.
	{"host == 'it''s'", `position 9: Vamp writes this value into an HAProxy ACL, where it has an unmatched single quote`},
	{"cookie '' == x", `position 8: expected a cookie name after "cookie", found "''"`},
	{`host == "abc`, `position 13: expected '"' to close the value opened at position 9, found end of input`},
	{`has cookie 'abc`, `position 16: expected "'" to close the value opened at position 12, found end of input`},
	{`path ~ "a("`, "position 8: invalid regular expression: missing closing ): `a(`"},
	{`method ~ '['`, "position 10: invalid regular expression: missing closing ]: `[`"},
	{"src == 10.0.0/8", `position 8: expected an IP address or CIDR prefix after "==", found "10.0.0/8"`},
	{"src is fe80::1%eth0", `position 8: expected an IP address or CIDR prefix after "is", found "fe80::1%eth0"`},
	{"src ~ 10", `position 5: expected "==" or "!=" after "src", found "~"`},
	{"host == a\x00", `position 10: expected "and", "or" or end of input, found "\x00"`},
	{strings.Repeat("(", 101) + "host == a" + strings.Repeat(")", 101), `position 101: condition nested deeper than 100 levels`},
	{strings.Repeat("!", 200) + "host == a", `position 101: condition nested deeper than 100 levels`},
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range invalidCases {
		m, err := Compile(tc.cond)
		if err == nil {
			t.Errorf("Compile(%q) = %q, want error %q", tc.cond, m, tc.err)
			continue
		}
		if err.Error() != tc.err {
			t.Errorf("Compile(%q) error:\n got %s\nwant %s", tc.cond, err, tc.err)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) error %T is not a *SyntaxError", tc.cond, err)
			continue
		}
		if se.Src != tc.cond || se.Pos < 1 || se.Pos > len([]rune(tc.cond))+1 || se.Found == "" || se.Expected == "" {
			t.Errorf("Compile(%q): bad SyntaxError fields %+v", tc.cond, *se)
		}
	}
}

func TestSyntaxErrorFields(t *testing.T) {
	_, err := Compile("host ==")
	want := SyntaxError{Pos: 8, Found: "end of input", Expected: "a value", Src: "host =="}
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos != want.Pos || se.Found != want.Found || se.Expected != want.Expected || se.Src != want.Src {
		t.Fatalf("got %#v, want fields of %#v", err, want)
	}

	_, err = Compile(`path ~ "a("`)
	var re *syntax.Error
	if !errors.As(err, &re) || re.Code != syntax.ErrMissingParen {
		t.Fatalf("regexp error not wrapped: %#v", err)
	}
}

func TestMatchAllocs(t *testing.T) {
	for _, cond := range []string{
		benchCondition,
		"host == shop.example.com",
		"user-agent == Safari or user-agent == IE",
		"not (has cookie vamp and cookie vamp misses abc)",
		`path ~ "^/api/v[0-9]+/items(/[0-9]+)?$" and method has g`,
		"src == 10.0.0.0/8 or src == 2001:db8::/32",
		"query q != 1 and header X-Canary has group",
		`user-agent ~ "\bMobile\b" or user-agent ~ "(?i)\pL+ \d" or path ~ "(?m)^/api$"`,
	} {
		m, err := Compile(cond)
		if err != nil {
			t.Fatalf("Compile(%q): %v", cond, err)
		}
		for _, in := range m.prog {
			if in.test == testRegexp && in.re.dfa == nil {
				t.Fatalf("Compile(%q): regexp %q has no DFA", cond, in.text)
			}
		}
		for _, rq := range requests {
			if n := testing.AllocsPerRun(100, func() { m.Match(rq.r) }); n != 0 {
				t.Errorf("Compile(%q).Match(%s): %v allocs, want 0", cond, rq.name, n)
			}
		}
	}
}

// benchCondition has ten operands, every kind of subject and one regexp; all
// are true for request C, so Match evaluates all of them.
const benchCondition = `host == shop.example.com:8080 and user-agent == Chrome and has header X-VAMP-MY-COOL-HEADER` +
	` and header X-Canary has group and cookie vamp has abc and path ~ "^/api/v[0-9]+/"` +
	` and method == GET and query q == 1 and src == 10.0.0.0/8 and misses cookie blocked`

func BenchmarkMatch(b *testing.B) {
	m, err := Compile(benchCondition)
	if err != nil {
		b.Fatal(err)
	}
	r := requests[0].r
	if !m.Match(r) {
		b.Fatal("benchmark condition does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Match(r)
	}
}

// BenchmarkMatchHandCoded is the floor BenchmarkMatch is measured against:
// the same ten checks written directly in Go, with the same Request.
func BenchmarkMatchHandCoded(b *testing.B) {
	var r Request = requests[0].r
	host := []byte("shop.example.com:8080")
	chrome := []byte("Chrome")
	hv := []byte("X-VAMP-MY-COOL-HEADER")
	hc := []byte("X-Canary")
	group := []byte("group")
	vamp := []byte("vamp")
	abc := []byte("abc")
	get := []byte("GET")
	q := []byte("q")
	one := []byte("1")
	blocked := []byte("blocked")
	pfx := netip.MustParsePrefix("10.0.0.0/8")
	p, _ := compilePattern("^/api/v[0-9]+/")
	f := func() bool {
		if !bytes.Equal(r.Host(), host) {
			return false
		}
		if v, ok := r.Header(userAgentHeader); !ok || !bytes.Contains(v, chrome) {
			return false
		}
		if _, ok := r.Header(hv); !ok {
			return false
		}
		if v, ok := r.Header(hc); !ok || !bytes.Contains(v, group) {
			return false
		}
		if v, ok := r.Cookie(vamp); !ok || !bytes.Contains(v, abc) {
			return false
		}
		if !p.dfa.match(r.Path()) {
			return false
		}
		if !equalFold(r.Method(), get) {
			return false
		}
		if v, ok := r.Query(q); !ok || string(v) != string(one) {
			return false
		}
		if a := r.Source(); !pfx.Contains(a) {
			return false
		}
		if _, ok := r.Cookie(blocked); ok {
			return false
		}
		return true
	}
	for b.Loop() {
		f()
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(benchCondition); err != nil {
			b.Fatal(err)
		}
	}
}
