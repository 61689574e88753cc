package condition

import (
	"strings"
)

// compileRaw compiles text Vamp's parser could not read, which Vamp handed
// to HAProxy: either one ACL definition ("hdr_sub(user-agent) Android", as
// Vamp's own tests show) or an HAProxy condition over anonymous ACLs,
// "{ acl } { acl } or !{ acl }", where blanks mean "and" and "or"/"||" bind
// looser, as in Vamp's rewrites ("NEW if { path_beg /img }") and
// Marathon-LB's templates.
func compileRaw(src string) (*Matcher, error) {
	words, err := haproxyWords(src)
	if err != nil {
		return nil, rawError(src, err.Error())
	}
	first := ""
	if len(words) > 0 {
		first = strings.TrimLeft(words[0], "!")
	}
	var root node
	if first == "" || first == "{" || strings.HasPrefix(words[0], "!") {
		root, err = rawCondition(words)
	} else {
		var a *acl
		if a, err = parseACL(words); err == nil {
			root = aclLeaf(a)
		}
	}
	if err != nil {
		return nil, rawError(src, err.Error())
	}
	return &Matcher{root: root, prog: lowerTree(root), src: formatRaw(root)}, nil
}

func rawError(src, msg string) *SyntaxError {
	sc := scanner{src: src}
	sc.skipSpace()
	return &SyntaxError{Pos: sc.pos(sc.off), Found: sc.found(sc.off), Expected: "an HAProxy ACL", Src: src,
		msg: "HAProxy ACL: " + msg}
}

func aclLeaf(a *acl) *leaf {
	return &leaf{subj: subjRaw, test: testACL, acls: []*acl{a}, text: a.text}
}

// rawCondition reads "[!]{ acl } ..." terms joined by blanks (and) and
// "or"/"||" (or).
func rawCondition(words []string) (node, error) {
	var or orNode
	var and andNode
	neg := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "or" || w == "||" {
			if len(and) == 0 || neg {
				return nil, aclErrorf("HAProxy condition: %q must follow a term", w)
			}
			or = append(or, flatAnd(and))
			and = nil
			continue
		}
		for strings.HasPrefix(w, "!") {
			neg = !neg
			w = w[1:]
		}
		switch w {
		case "":
			continue // a lone "!"
		case "{":
		default:
			return nil, aclErrorf("HAProxy condition: named ACL %q is not defined here: write it inline, as { fetch [flags] patterns }", w)
		}
		end := i + 1
		for end < len(words) && words[end] != "}" {
			end++
		}
		if end == len(words) {
			return nil, aclErrorf("HAProxy condition: missing \"}\" (braces are words of their own: { path_beg /a })")
		}
		a, err := parseACL(words[i+1 : end])
		if err != nil {
			return nil, err
		}
		l := aclLeaf(a)
		l.neg, neg = neg, false
		and = append(and, l)
		i = end
	}
	if len(and) == 0 {
		return nil, aclErrorf("HAProxy condition: expected { fetch [flags] patterns }")
	}
	if len(or) == 0 {
		return flatAnd(and), nil
	}
	return append(or, flatAnd(and)), nil
}

func flatAnd(and andNode) node {
	if len(and) == 1 {
		return and[0]
	}
	return and
}

// formatRaw renders a raw condition in HAProxy's own syntax, so that
// String compiles back to the same matcher.
func formatRaw(n node) string {
	var b strings.Builder
	var write func(n node)
	write = func(n node) {
		switch n := n.(type) {
		case orNode:
			for i, k := range n {
				if i > 0 {
					b.WriteString(" or ")
				}
				write(k)
			}
		case andNode:
			for i, k := range n {
				if i > 0 {
					b.WriteByte(' ')
				}
				write(k)
			}
		case *leaf:
			if n.neg {
				b.WriteByte('!')
			}
			b.WriteString("{ " + n.text + " }")
		}
	}
	// One ACL prints bare, as written, unless the DSL would read that text.
	if l, ok := n.(*leaf); ok && !l.neg && !looksDSL(l.text) {
		if _, err := compileDSL(l.text); err != nil {
			return l.text
		}
	}
	write(n)
	return b.String()
}

// looksRaw reports whether src reads as HAProxy rather than Vamp's DSL:
// it starts with a brace or a known or parenthesised fetch.
func looksRaw(src string) bool {
	w := strings.TrimLeft(strings.TrimSpace(src), "! \t")
	if i := strings.IndexAny(w, " \t\r\n"); i >= 0 {
		w = w[:i]
	}
	if strings.HasPrefix(w, "{") || strings.Contains(w, "(") && !strings.HasPrefix(w, "(") {
		return true
	}
	_, ok := fetches[strings.ToLower(w)]
	return ok || strings.HasPrefix(strings.ToLower(w), "req.") || strings.Contains(w, "_")
}

// looksDSL reports whether src's second word is one of the DSL's
// comparison operators: "path == /x" is a DSL comparison, never the
// HAProxy ACL "path is == or /x" that Vamp's fallback would have made.
func looksDSL(src string) bool {
	f := strings.Fields(src)
	if len(f) > 0 && strings.ContainsAny(f[0][:1], "!{") {
		return false
	}
	if len(f) < 2 {
		return len(f) == 1 && strings.ContainsAny(f[0], "=~")
	}
	if strings.ContainsAny(f[0], "=~") {
		return true
	}
	switch strings.ToLower(f[1]) {
	case "is", "not", "has", "contains", "misses":
		return true
	}
	return strings.ContainsAny(f[1][:1], "=!~")
}
