package condition

import (
	"strconv"
	"strings"
)

// maxDepth bounds nesting of parentheses and negations, so that hostile
// input cannot make the recursive parser (or Match) recurse without limit.
const maxDepth = 100

const operandList = "host, vhost, user-agent, header, cookie, path, method, query, src, has, misses or < HAProxy ACL >"

// Compile parses a condition and compiles it into a matcher. Empty/blank src
// is an error (callers treat "" as "no condition" themselves). Parse and
// semantic errors (bad regexp, bad CIDR) are *SyntaxError.
//
// Text the DSL cannot read is compiled as raw HAProxy, as Vamp passed it to
// HAProxy: one ACL ("hdr_sub(user-agent) Android") or a condition over
// anonymous ACLs ("{ path_beg /a } || !{ src 10.0.0.0/8 }"). The error
// then is the DSL's, unless the text reads as HAProxy (starts with a brace
// or a fetch).
func Compile(src string) (*Matcher, error) {
	m, err := compileDSL(src)
	if err == nil || looksDSL(src) {
		return m, err
	}
	raw, rawErr := compileRaw(src)
	switch {
	case rawErr == nil:
		return raw, nil
	case looksRaw(src):
		return nil, rawErr
	}
	return nil, err
}

func compileDSL(src string) (*Matcher, error) {
	p := &parser{s: scanner{src: src}}
	p.s.skipSpace()
	if p.s.eof() {
		return nil, p.fail(p.s.off, "a condition", "")
	}
	root, err := p.expr("")
	if err != nil {
		return nil, err
	}
	p.s.skipSpace()
	if !p.s.eof() {
		e := p.fail(p.s.off, `"and", "or" or end of input`, "")
		if p.s.peek() == ')' {
			e.msg = "unbalanced parenthesis: " + e.msg
		}
		return nil, e
	}
	return &Matcher{root: root, prog: lowerTree(root), src: format(root)}, nil
}

type parser struct {
	s     scanner
	depth int
}

// fail builds the usual error: expected X [after Y], found Z.
func (p *parser) fail(off int, expected, after string) *SyntaxError {
	return p.failFound(off, p.s.found(off), expected, after)
}

// failValue is fail for a value that was read but is wrong: it shows the
// whole value, not just the token at its start.
func (p *parser) failValue(off int, val, expected, after string) *SyntaxError {
	return p.failFound(off, quoteFound(val), expected, after)
}

func (p *parser) failFound(off int, found, expected, after string) *SyntaxError {
	e := &SyntaxError{Pos: p.s.pos(off), Found: found, Expected: expected, Src: p.s.src}
	e.msg = "expected " + expected
	if after != "" {
		e.msg += " after " + strconv.Quote(after)
	}
	e.msg += ", found " + e.Found
	return e
}

// expr := term { ("or"|"||"|"|") term }
func (p *parser) expr(after string) (node, error) {
	var kids orNode
	for {
		n, err := p.term(after)
		if err != nil {
			return nil, err
		}
		kids = appendFlat(kids, n)
		if after = p.connector("or", "||", "|"); after == "" {
			break
		}
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return kids, nil
}

// term := factor { ("and"|"&&"|"&") factor }
func (p *parser) term(after string) (node, error) {
	var kids andNode
	for {
		n, err := p.factor(after)
		if err != nil {
			return nil, err
		}
		if a, ok := n.(andNode); ok {
			kids = append(kids, a...) // (a and b) and c is a and b and c
		} else {
			kids = append(kids, n)
		}
		if after = p.connector("and", "&&", "&"); after == "" {
			break
		}
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return kids, nil
}

func appendFlat(kids orNode, n node) orNode {
	if o, ok := n.(orNode); ok {
		return append(kids, o...)
	}
	return append(kids, n)
}

// connector consumes word (case-insensitive), long or short and returns the
// text consumed, or "" when none is there.
func (p *parser) connector(word, long, short string) string {
	p.s.skipSpace()
	for _, op := range [...]string{long, short} {
		if p.s.hasPrefix(op) {
			p.s.off += len(op)
			return op
		}
	}
	if w, end := p.s.keyword(); strings.EqualFold(w, word) {
		p.s.off = end
		return w
	}
	return ""
}

// factor := ("!"|"not") factor | "(" expr ")" | operand
func (p *parser) factor(after string) (node, error) {
	p.s.skipSpace()
	start := p.s.off
	if p.depth++; p.depth > maxDepth {
		e := p.fail(start, "an operand", after)
		e.msg = "condition nested deeper than " + strconv.Itoa(maxDepth) + " levels"
		return nil, e
	}
	defer func() { p.depth-- }()

	switch p.s.peek() {
	case '!':
		p.s.off++
		n, err := p.factor("!")
		if err != nil {
			return nil, err
		}
		return negate(n), nil
	case '(':
		p.s.off++
		n, err := p.expr("(")
		if err != nil {
			return nil, err
		}
		p.s.skipSpace()
		if p.s.peek() != ')' {
			if p.s.eof() {
				e := p.fail(p.s.off, `")"`, "")
				e.msg = "unbalanced parenthesis: " + e.msg
				return nil, e
			}
			return nil, p.fail(p.s.off, `"and", "or" or ")"`, "")
		}
		p.s.off++
		return n, nil
	case '<':
		return p.rawACL(start)
	case '\'', '"':
		// Vamp's docs show the raw form quoted, "< hdr_sub(user-agent) Chrome >",
		// meaning YAML quotes; quotes inside the condition are not Vamp's form.
		if strings.HasPrefix(strings.TrimLeft(p.s.src[p.s.off+1:], " \t"), "<") {
			e := p.fail(start, "an operand", after)
			e.msg = `a quoted "< ... >" is not an HAProxy ACL: drop the quotes: ` + e.msg
			return nil, e
		}
	}

	w, end := p.s.keyword()
	if w == "" {
		return nil, p.fail(start, "an operand", after)
	}
	p.s.off = end
	switch strings.ToLower(w) {
	case "not":
		n, err := p.factor(w)
		if err != nil {
			return nil, err
		}
		return negate(n), nil
	case "host":
		return p.comparison(&leaf{subj: subjHost}, w)
	case "vhost":
		return p.comparison(&leaf{subj: subjVhost}, w)
	case "user-agent", "user.agent", "useragent":
		return p.comparison(&leaf{subj: subjUA}, w)
	case "user":
		p.s.skipSpace()
		if a, end := p.s.keyword(); strings.EqualFold(a, "agent") {
			p.s.off = end
			return p.comparison(&leaf{subj: subjUA}, a)
		}
	case "path":
		return p.comparison(&leaf{subj: subjPath}, w)
	case "method":
		return p.comparison(&leaf{subj: subjMethod}, w)
	case "src":
		return p.comparison(&leaf{subj: subjSrc}, w)
	case "header", "cookie", "query":
		l := &leaf{subj: subjectOf(w)}
		name, err := p.name(w)
		if err != nil {
			return nil, err
		}
		l.name = []byte(name)
		return p.comparison(l, name)
	case "has", "contains", "misses":
		return p.presence(w)
	}
	// Quote the whole word, "höst" rather than "h".
	word := p.s.src[start:p.s.run(start, isNameRune)]
	e := p.failValue(start, word, operandList, "")
	e.msg = "unknown operand " + e.Found + ": expected " + operandList
	return nil, e
}

// rawACL reads Vamp's "< ACL >": one HAProxy ACL definition, up to the
// next ">" (Vamp's ValueOperand: no "<" or ">" inside), trimmed.
func (p *parser) rawACL(start int) (node, error) {
	end := strings.IndexAny(p.s.src[start+1:], "<>")
	if end < 0 || p.s.src[start+1+end] != '>' {
		off := len(p.s.src)
		if end >= 0 {
			off = start + 1 + end
		}
		e := p.fail(off, `">"`, "")
		e.msg = "expected \">\" to close the HAProxy ACL opened at position " + strconv.Itoa(p.s.pos(start)) + ", found " + e.Found
		return nil, e
	}
	body := p.s.src[start+1 : start+1+end]
	words, err := haproxyWords(body)
	var a *acl
	if err == nil {
		a, err = parseACL(words)
	}
	if err != nil {
		e := p.failValue(start, "<"+body+">", "an HAProxy ACL", "")
		e.msg = "HAProxy ACL: " + err.Error()
		return nil, e
	}
	p.s.off = start + 1 + end + 1
	return aclLeaf(a), nil
}

func subjectOf(kw string) subject {
	switch strings.ToLower(kw) {
	case "header":
		return subjHeader
	case "cookie":
		return subjCookie
	}
	return subjQuery
}

// presence := ("has"|"contains"|"misses") ("cookie"|"header"|"query") name
func (p *parser) presence(verb string) (node, error) {
	p.s.skipSpace()
	off := p.s.off
	kw, end := p.s.keyword()
	switch strings.ToLower(kw) {
	case "header", "cookie", "query":
	default:
		return nil, p.fail(off, `"cookie", "header" or "query"`, verb)
	}
	p.s.off = end
	name, err := p.name(kw)
	if err != nil {
		return nil, err
	}
	return &leaf{
		subj: subjectOf(kw),
		test: testPresent,
		neg:  strings.EqualFold(verb, "misses"),
		name: []byte(name),
		text: name,
	}, nil
}

// name reads a header, cookie or query argument name, bare or quoted.
func (p *parser) name(kind string) (string, error) {
	p.s.skipSpace()
	off := p.s.off
	expected := "a " + strings.ToLower(kind) + " name"
	if c := p.s.peek(); c == '\'' || c == '"' {
		v, ok := p.s.quoted()
		if !ok {
			return "", p.unterminated(off, c)
		}
		if v == "" {
			return "", p.fail(off, expected, kind)
		}
		return v, nil
	}
	end := p.s.run(off, isNameRune)
	if end == off {
		return "", p.fail(off, expected, kind)
	}
	p.s.off = end
	return p.s.src[off:end], nil
}

func (p *parser) unterminated(open int, q byte) *SyntaxError {
	closing := `"'"`
	if q == '"' {
		closing = `'"'`
	}
	e := p.fail(len(p.s.src), closing, "")
	e.msg = "expected " + e.Expected + " to close the value opened at position " +
		strconv.Itoa(p.s.pos(open)) + ", found " + e.Found
	return e
}

// cmpKind is the family of a comparison operator.
type cmpKind uint8

const (
	cmpEqual    cmpKind = iota // == = is  (negated: != ! not)
	cmpContains                // has contains  (negated: misses)
	cmpRegexp                  // ~  (negated: !~)
)

const cmpList = `"==", "!=", "has", "misses", "~" or "!~"`

// cmp reads a comparison operator; symbols are tried longest first.
func (p *parser) cmp(after string) (kind cmpKind, neg bool, text string, err error) {
	p.s.skipSpace()
	for _, c := range [...]struct {
		op   string
		kind cmpKind
		neg  bool
	}{
		{"!~", cmpRegexp, true}, {"!=", cmpEqual, true}, {"==", cmpEqual, false},
		{"!", cmpEqual, true}, {"=", cmpEqual, false}, {"~", cmpRegexp, false},
	} {
		if p.s.hasPrefix(c.op) {
			p.s.off += len(c.op)
			return c.kind, c.neg, c.op, nil
		}
	}
	w, end := p.s.keyword()
	switch strings.ToLower(w) {
	case "is":
		kind = cmpEqual
	case "not":
		kind, neg = cmpEqual, true
	case "has", "contains":
		kind = cmpContains
	case "misses":
		kind, neg = cmpContains, true
	default:
		return 0, false, "", p.fail(p.s.off, cmpList, after)
	}
	p.s.off = end
	return kind, neg, w, nil
}

// comparison := cmp value, completing l, whose subject (and name) is set.
func (p *parser) comparison(l *leaf, after string) (node, error) {
	p.s.skipSpace()
	cmpOff := p.s.off
	kind, neg, op, err := p.cmp(after)
	if err != nil {
		return nil, err
	}
	if l.subj == subjSrc && kind == cmpRegexp {
		return nil, p.fail(cmpOff, `"==" or "!="`, after)
	}
	p.s.skipSpace()
	valOff := p.s.off
	val, err := p.value(op)
	if err != nil {
		return nil, err
	}
	switch err := l.build(kind, neg, val); {
	case isACLError(err):
		e := p.failValue(valOff, val, "a value", op)
		e.msg = err.Error()
		return nil, e
	case err == errBadAddress:
		return nil, p.failValue(valOff, val, "an IP address or CIDR prefix", op)
	case err != nil:
		e := p.failValue(valOff, val, "a valid regular expression", op)
		e.msg = "invalid regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		e.err = err
		return nil, e
	}
	return l, nil
}

// value reads a bare or quoted value.
func (p *parser) value(after string) (string, error) {
	p.s.skipSpace()
	off := p.s.off
	if c := p.s.peek(); c == '\'' || c == '"' {
		v, ok := p.s.quoted()
		if !ok {
			return "", p.unterminated(off, c)
		}
		return v, nil
	}
	end := p.s.run(off, isValueRune)
	if end == off {
		return "", p.fail(off, "a value", after)
	}
	p.s.off = end
	return p.s.src[off:end], nil
}

// negate returns the negation of n, folding it into a leaf or cancelling a
// double negation so that String stays short and canonical.
func negate(n node) node {
	switch n := n.(type) {
	case *leaf:
		c := *n
		c.neg = !c.neg
		return &c
	case notNode:
		return n.kid
	}
	return notNode{n}
}
