package condition

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// genExpr is a random expression with its own evaluator, to check the
// parser's precedence and the lowering against an independent model.
type genExpr struct {
	op   byte // 'l' leaf, '&', '|', '!'
	leaf string
	kids []*genExpr
}

var genLeaves = []string{
	"host == shop.example.com", "user-agent == Chrome", "has header X-Canary", "cookie vamp has abc",
	`path ~ "^/api/"`, "method == GET", "query q == 1", "src == 10.0.0.0/8", "misses cookie theme",
	"user-agent == Safari", "header X-Canary != group-a", "has query q",
}

func genRandom(rng *rand.Rand, depth int) *genExpr {
	if depth == 0 || rng.IntN(3) == 0 {
		return &genExpr{op: 'l', leaf: genLeaves[rng.IntN(len(genLeaves))]}
	}
	switch rng.IntN(3) {
	case 0:
		return &genExpr{op: '!', kids: []*genExpr{genRandom(rng, depth-1)}}
	case 1:
		return &genExpr{op: '&', kids: []*genExpr{genRandom(rng, depth-1), genRandom(rng, depth-1), genRandom(rng, depth-1)}[:2+rng.IntN(2)]}
	}
	return &genExpr{op: '|', kids: []*genExpr{genRandom(rng, depth-1), genRandom(rng, depth-1), genRandom(rng, depth-1)}[:2+rng.IntN(2)]}
}

// text writes e with only the parentheses precedence needs (and random
// spellings of the connectors), so that "and binds tighter" is exercised.
func (e *genExpr) text(rng *rand.Rand, b *strings.Builder, ctx byte) {
	switch e.op {
	case 'l':
		b.WriteString(e.leaf)
	case '!':
		b.WriteString([]string{"!", "not ", "NOT ", "! "}[rng.IntN(4)])
		if e.kids[0].op == 'l' || e.kids[0].op == '!' {
			e.kids[0].text(rng, b, '!')
		} else {
			b.WriteString("(")
			e.kids[0].text(rng, b, 0)
			b.WriteString(")")
		}
	case '&', '|':
		paren := ctx == '!' || ctx == '&' && e.op == '|' || rng.IntN(5) == 0
		if paren {
			b.WriteString("(")
		}
		seps := map[byte][]string{'&': {" and ", " AND ", " && ", " & "}, '|': {" or ", " Or ", " || ", " | "}}[e.op]
		for i, k := range e.kids {
			if i > 0 {
				b.WriteString(seps[rng.IntN(len(seps))])
			}
			k.text(rng, b, e.op)
		}
		if paren {
			b.WriteString(")")
		}
	}
}

func (e *genExpr) eval(leafValue func(string) bool) bool {
	switch e.op {
	case 'l':
		return leafValue(e.leaf)
	case '!':
		return !e.kids[0].eval(leafValue)
	case '&':
		for _, k := range e.kids {
			if !k.eval(leafValue) {
				return false
			}
		}
		return true
	}
	for _, k := range e.kids {
		if k.eval(leafValue) {
			return true
		}
	}
	return false
}

func TestRandomConditions(t *testing.T) {
	leafMatchers := map[string]*Matcher{}
	for _, l := range genLeaves {
		leafMatchers[l] = mustCompile(t, l)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		e := genRandom(rng, 4)
		var b strings.Builder
		e.text(rng, &b, 0)
		src := b.String()
		m, err := Compile(src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		for _, rq := range requests {
			want := e.eval(func(l string) bool { return leafMatchers[l].Match(rq.r) })
			if got := m.Match(rq.r); got != want {
				t.Fatalf("Compile(%q).Match(%s) = %v, want %v (normalised: %s)", src, rq.name, got, want, m)
			}
		}
		checkProgram(t, src, m)
		checkRoundTrip(t, src, m)
	}
}

func mustCompile(t *testing.T, src string) *Matcher {
	t.Helper()
	m, err := Compile(src)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return m
}
