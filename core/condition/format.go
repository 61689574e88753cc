package condition

import "strings"

// format renders a compiled tree as canonical source: the text String shows
// and that compiles back to an equivalent matcher.
func format(n node) string {
	var b strings.Builder
	writeNode(&b, n, false)
	return b.String()
}

func writeNode(b *strings.Builder, n node, inAnd bool) {
	switch n := n.(type) {
	case orNode:
		// "and" binds tighter, so an "or" needs parentheses only inside one.
		if inAnd {
			b.WriteByte('(')
		}
		for i, k := range n {
			if i > 0 {
				b.WriteString(" or ")
			}
			writeNode(b, k, false)
		}
		if inAnd {
			b.WriteByte(')')
		}
	case andNode:
		for i, k := range n {
			if i > 0 {
				b.WriteString(" and ")
			}
			writeNode(b, k, true)
		}
	case notNode:
		b.WriteString("not (")
		writeNode(b, n.kid, false)
		b.WriteByte(')')
	case *leaf:
		writeLeaf(b, n)
	}
}

var subjectNames = [...]string{
	subjHost: "host", subjUA: "user-agent", subjHeader: "header", subjCookie: "cookie",
	subjPath: "path", subjMethod: "method", subjQuery: "query", subjSrc: "src", subjVhost: "vhost",
}

func writeLeaf(b *strings.Builder, l *leaf) {
	if l.subj == subjRaw {
		if l.neg {
			b.WriteString("not ")
		}
		b.WriteString("< " + l.text + " >")
		return
	}
	if l.test == testPresent {
		if l.neg {
			b.WriteString("misses ")
		} else {
			b.WriteString("has ")
		}
		b.WriteString(subjectNames[l.subj])
		b.WriteByte(' ')
		b.WriteString(quoteName(l.text))
		return
	}
	b.WriteString(subjectNames[l.subj])
	if l.name != nil {
		b.WriteByte(' ')
		b.WriteString(quoteName(string(l.name)))
	}
	// One spelling per meaning: == exact (or in-prefix), has substring.
	ops := [...][2]string{
		testEqual: {"==", "!="}, testContains: {"has", "misses"},
		testRegexp: {"~", "!~"}, testPrefix: {"==", "!="}, testACL: {"has", "misses"},
	}[l.test]
	if l.subj == subjHost && l.test == testACL {
		ops = [2]string{"==", "!="}
	}
	b.WriteByte(' ')
	if l.neg {
		b.WriteString(ops[1])
	} else {
		b.WriteString(ops[0])
	}
	b.WriteByte(' ')
	b.WriteString(quoteValue(l.text))
}

// quoteValue returns v bare when it would be read back as the same value,
// else double-quoted with inner quotes doubled.
func quoteValue(v string) string {
	if v != "" && v[0] != '\'' && v[0] != '"' && allRunes(v, isValueRune) {
		return v
	}
	return quote(v)
}

func quoteName(v string) string {
	if v != "" && v[0] != '\'' && v[0] != '"' && allRunes(v, isNameRune) {
		return v
	}
	return quote(v)
}

func quote(v string) string {
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

func allRunes(s string, ok func(rune, int) bool) bool {
	sc := scanner{src: s}
	return sc.run(0, ok) == len(s)
}
