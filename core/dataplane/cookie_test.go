package dataplane

import (
	"bufio"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// parseHead reads a request head with the given Cookie header lines.
func parseHead(t testing.TB, cookieLines ...string) *fasthttp.RequestHeader {
	t.Helper()
	raw := "GET / HTTP/1.1\r\nHost: a\r\n"
	for _, l := range cookieLines {
		raw += "Cookie: " + l + "\r\n"
	}
	var h fasthttp.RequestHeader
	if err := h.Read(bufio.NewReader(strings.NewReader(raw + "\r\n"))); err != nil {
		t.Fatalf("reading %q: %v", raw, err)
	}
	return &h
}

func TestPeekCookie(t *testing.T) {
	tests := []struct {
		lines  []string
		name   string
		want   string
		wantOK bool
	}{
		{[]string{"session=abc"}, "session", "abc", true},
		{[]string{"a=1; session=abc; b=2"}, "session", "abc", true},
		{[]string{"a=1;session=abc"}, "session", "abc", true},
		{[]string{"a=1 ;  session = abc\t; b=2"}, "session", "abc", true},
		{[]string{`session="quoted value"`}, "session", "quoted value", true},
		{[]string{`session=""`}, "session", "", true},
		{[]string{"session="}, "session", "", true}, // present, empty
		{[]string{"session"}, "session", "", false}, // a value without a key
		{[]string{"session=a=b"}, "session", "a=b", true},
		{[]string{"Session=abc"}, "session", "", false}, // names are case-sensitive
		{[]string{"xsession=1; session=2"}, "session", "2", true},
		{[]string{"x=session=1; session=2"}, "session", "2", true},
		{[]string{"xa a=1"}, "a", "", false}, // the key is "xa a"
		{[]string{"session=1; session=2"}, "session", "1", true},
		{[]string{`session=a"b; session=ok`}, "session", "ok", true}, // invalid values are skipped
		{[]string{`session=a\b`}, "session", "", false},
		{[]string{"a=1", "session=abc"}, "session", "abc", true}, // two Cookie headers
		{[]string{"session=first", "session=second"}, "session", "first", true},
		{[]string{"a=1; b=2"}, "session", "", false},
		{nil, "session", "", false},
		{[]string{";;; ; session=x;"}, "session", "x", true},
		{[]string{"a b=1"}, "a b", "1", true}, // names fasthttp allows, searched pair by pair
		{[]string{"=v"}, "", "v", true},
		{[]string{"x=1;" + strings.Repeat(" ", 300) + "a=2"}, "a", "2", true},
		{[]string{strings.Repeat(" a", 300) + "=3"}, "a", "", false}, // the key is "a a a ... a"
	}
	for _, tc := range tests {
		h := parseHead(t, tc.lines...)
		got, ok := peekCookie(h, []byte(tc.name))
		if string(got) != tc.want || ok != tc.wantOK {
			t.Errorf("peekCookie(%q, %q) = %q, %v; want %q, %v", tc.lines, tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}

// TestPeekCookieAgreesWithFasthttp compares peekCookie with fasthttp's own
// CookieBytes on random Cookie headers built from the characters that
// matter to the split: wherever fasthttp finds a non-empty value, so must
// peekCookie, the same, and nothing where fasthttp finds nothing.
func TestPeekCookieAgreesWithFasthttp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "=", ";", " ", "\t", `"`, `\`, "x1", "; ", "a=", "b="}
	for i := range 20000 {
		var sb strings.Builder
		for range 1 + rng.IntN(12) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		line := strings.Trim(sb.String(), " \t") // the parser trims a header value's edges
		if line == "" {
			continue
		}
		for _, name := range []string{"a", "b", "x1", "a b", "a=b", ""} {
			h := parseHead(t, line)
			got, ok := peekCookie(h, []byte(name))
			want := h.Cookie(name) // parses the cookies: after peekCookie
			if len(want) > 0 && (!ok || string(got) != string(want)) || len(want) == 0 && len(got) > 0 {
				t.Fatalf("case %d: Cookie: %q, name %q: peekCookie = %q, %v; fasthttp = %q", i, line, name, got, ok, want)
			}
		}
	}
}

// A cookie read leaves the head as it came, and costs no allocation.
func TestPeekCookieLeavesTheHeadAlone(t *testing.T) {
	h := parseHead(t, `b=2;  a="1"`)
	if v, ok := peekCookie(h, []byte("a")); !ok || string(v) != "1" {
		t.Fatalf("peekCookie = %q, %v", v, ok)
	}
	if got := string(h.Peek("Cookie")); got != `b=2;  a="1"` {
		t.Fatalf("Cookie header after peekCookie = %q", got)
	}
	name := []byte("a")
	if n := testing.AllocsPerRun(100, func() { peekCookie(h, name) }); n != 0 {
		t.Fatalf("peekCookie allocates %.1f times", n)
	}
}
