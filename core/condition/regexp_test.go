package condition

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

var dfaPatterns = []string{
	``, `a`, `^a`, `a$`, `^$`, `^a$`, `^/api/v[0-9]+/`, `^/api/v[0-9]+/items(/[0-9]+)?$`,
	`Firefox/1[0-9]{2}`, `-[ab]$`, `(?i)chrome`, `(?i)straße`, `(?i)k`, `[^a-z]`, `.`, `(?s).`,
	`a.b`, `a*`, `a+b+`, `(a|b)*c`, `x{2,3}`, `é+`, `[α-ω]+$`, `\x{FFFD}`, `[^\x00-\x7f]`,
	`^(shop|api)\.`, `\d+\.\d+`, `[[:alpha:]]+`, `$^`, `^^a$$`, `(^|x)y`, `a(^|$)`,
	`(?:a|^)b`, `a|`, `(?U)a+`, `\Aab\z`, `\QA.B\E`, `^.*$`, `(?s)^.*$`, `MSIE [6-8]\.`,
	`\bword\b`, `\bMobile\b`, `\Ba\B`, `\b`, `\B`, `(?m)^a$`, `(?m)^b`, `(?m)a$`, `(?m)^$`,
	`\b(a|é)\b`, `x\b\b`, `\pL+`, `\p{Greek}+$`, `(?i)\bCHROME\b`, `(?m)(^|\b)y`,
}

var dfaInputs = []string{
	"", "a", "b", "ab", "ba", "aab", "abc", "xxy", "xy", "y", "\n", "a\nb", "/api/v1/items",
	"/api/v12/items/7", "/api/v/items", "/API/v1/", "Firefox/121.0", "Firefox/99", "group-a",
	"group-c", "CHROME", "Chrome/120", "STRASSE", "straße", "STRAẞE", "\u212a", "K", "k", "é",
	"éé", "αβγ", "xαβ", "\xff", "a\xffb", "\xef\xbf\xbd", "shop.example", "api.", "1.2",
	"MSIE 7.0", "A.B", "A-B", "ab\n", "aaaa", "abab c", "xxx",
	"word", "a word.", "swordfish", "Mobile Safari", "iPhone;Mobile/15E", "NotMobile", "b\na",
	"a\nb\n", "\n\n", "x a y", "é", "xy z", " y", "a\n", "baab", "Chrome!", "chromebook",
}

// TestDFA checks the DFA against regexp, the reference, and that the
// patterns it should handle do get one.
func TestDFA(t *testing.T) {
	for _, expr := range dfaPatterns {
		p, err := compilePattern(expr)
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", expr, err)
		}
		if p.dfa == nil {
			t.Errorf("compilePattern(%q): no DFA", expr)
			continue
		}
		for _, in := range dfaInputs {
			if got, want := p.dfa.match([]byte(in)), p.re.MatchString(in); got != want {
				t.Errorf("dfa(%q).match(%q) = %v, regexp says %v", expr, in, got, want)
			}
		}
	}
}

func TestDFAFallback(t *testing.T) {
	for _, expr := range []string{`(a|b)*a(a|b){12}`, `.{1,300}`, `\pL{20}`} {
		p, err := compilePattern(expr)
		if err != nil {
			t.Fatal(err)
		}
		if p.dfa != nil {
			t.Errorf("compilePattern(%q): unexpected DFA", expr)
		}
		for _, in := range dfaInputs {
			if p.match([]byte(in)) != p.re.MatchString(in) {
				t.Errorf("pattern(%q).match(%q) differs from regexp", expr, in)
			}
		}
	}
}

// FuzzRegexp compares the DFA with regexp on arbitrary patterns and inputs.
func FuzzRegexp(f *testing.F) {
	for i, expr := range dfaPatterns {
		f.Add(expr, dfaInputs[i%len(dfaInputs)])
	}
	f.Fuzz(func(t *testing.T, expr, in string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		d := buildDFA(expr)
		if d == nil {
			return
		}
		if got, want := d.match([]byte(in)), re.MatchString(in); got != want {
			t.Fatalf("dfa(%q).match(%q) = %v, regexp says %v", expr, in, got, want)
		}
	})
}

// TestDFARandom builds random patterns from fragments covering assertions,
// classes, folding, repetition and alternation, and compares the DFA with
// regexp on random inputs over a matching alphabet.
func TestDFARandom(t *testing.T) {
	frags := []string{"a", "b", "é", "K", `\n`, ".", "(?s:.)", "[a-c]", "[^a]", `\w`, `\W`, `\d`, `\s`,
		"^", "$", `\A`, `\z`, `\b`, `\B`, "(?m:^)", "(?m:$)", "(?i:k)", "(?i:é)", `[α-ω]`, "x"}
	ops := []string{"", "", "", "*", "+", "?", "{2}", "{0,2}", "*?"}
	alphabet := []string{"a", "b", "é", "É", "K", "k", "\u212a", "\n", " ", "x", "1", "_", "-", "\xff"}
	rng := rand.New(rand.NewPCG(7, 8))
	built := 0
	for range 3000 {
		var sb strings.Builder
		for range 1 + rng.IntN(5) {
			switch rng.IntN(6) {
			case 0:
				sb.WriteString("(" + frags[rng.IntN(len(frags))] + "|" + frags[rng.IntN(len(frags))] + ")")
			default:
				sb.WriteString(frags[rng.IntN(len(frags))])
			}
			sb.WriteString(ops[rng.IntN(len(ops))])
		}
		expr := sb.String()
		re, err := regexp.Compile(expr)
		if err != nil {
			continue // e.g. a repeated assertion
		}
		d := buildDFA(expr)
		if d == nil {
			continue
		}
		built++
		for range 20 {
			var in strings.Builder
			for range rng.IntN(8) {
				in.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			if got, want := d.match([]byte(in.String())), re.MatchString(in.String()); got != want {
				t.Fatalf("dfa(%q).match(%q) = %v, regexp says %v", expr, in.String(), got, want)
			}
		}
	}
	if built < 2000 {
		t.Errorf("only %d of the random patterns got a DFA", built)
	}
}
