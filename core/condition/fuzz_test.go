package condition

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCompile: Compile never panics; errors are *SyntaxError with a position
// inside the text; what compiles prints as text that compiles to the same
// thing and matches the same requests.
func FuzzCompile(f *testing.F) {
	for _, tc := range validCases {
		f.Add(tc.cond)
	}
	for _, tc := range invalidCases {
		f.Add(tc.cond)
	}
	for _, s := range []string{"hdr(x-group) -i beta gamma", "{ path_beg /a } || !{ src 10.0.0.0/8 } { method GET }",
		"< hdr_cnt(a) gt 1 > and host == 'a b'", `req.fhdr(user-agent) -m reg "^Mo\\w" # c`, "cook_cnt(x) 1:3 :0", "path -m dom -i a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		m, err := Compile(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): error %T is not a *SyntaxError: %v", src, err, err)
			}
			if se.Pos < 1 || se.Pos > utf8.RuneCountInString(src)+1 || se.Src != src {
				t.Fatalf("Compile(%q): bad position or source in %+v", src, *se)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "position ") {
				t.Fatalf("Compile(%q): odd message %q", src, msg)
			}
			return
		}
		checkProgram(t, src, m)
		checkRoundTrip(t, src, m)
	})
}
