// Package selector reads Vamp's route selectors and evaluates them against
// the instances a scheduler runs. A selector is a boolean expression of
// operands that each test one property of an instance's port with a
// regular expression: name(...)/id(...), kind(...)/type(...),
// namespace(...)/group(...), image(...), label(NAME)(VALUE), ip(...)/host(...),
// and the numbers port(N) and port_index(N)/index(N), joined with and/&&/&,
// or/||/|, not/!, parentheses, and the constants true/t/1 and false/f/0.
//
// The grammar is Vamp's RouteSelectorParser.scala over its
// BooleanParser.scala (model/src/main/scala/io/vamp/model/parser), and
// the matching that of RouteSelectionProcessor.scala
// (operation/src/main/scala/io/vamp/operation/gateway): a regular
// expression must match the whole value, as a Scala Regex pattern does.
package selector

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Instance is one port of one running instance (a Marathon task), with
// the properties of its group (the Marathon app) that a selector tests.
type Instance struct {
	// Name is the app's last path segment, Namespace the segments before
	// it ("" for a top-level app), Kind "app".
	Name, Namespace, Kind string
	Labels                map[string]string
	// Image is the Docker image; "" when the app runs none (an image
	// operand then selects nothing).
	Image string
	// IP is the host traffic goes to, Port the app's port number for
	// port(N), Index its port index for port_index(N).
	IP          string
	Port, Index int
	// Addr is where traffic goes ("ip:port"); no operand tests it.
	Addr string
}

// Selector is a parsed selector.
type Selector struct {
	text string
	root node
}

// String is the selector as it was written.
func (s *Selector) String() string { return s.text }

// Matches reports whether the selector selects the instance.
func (s *Selector) Matches(in *Instance) bool { return s.root.match(in) }

// Error is a selector that does not parse: Vamp's "Invalid selector"
// message, with where and why.
type Error struct {
	Selector string
	// Pos is the byte offset (from 1) where reading stopped.
	Pos    int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid selector '%s': position %d: %s", e.Selector, e.Pos, e.Reason)
}

// Parse reads a selector.
func Parse(text string) (*Selector, error) {
	p := &parser{src: text}
	root, err := p.expression()
	if err == nil && p.pos < len(p.src) {
		err = p.fail("unexpected %q", p.src[p.pos:])
	}
	if err != nil {
		return nil, err
	}
	return &Selector{text: text, root: root}, nil
}

type node interface{ match(*Instance) bool }

type (
	and      [2]node
	or       [2]node
	not      struct{ n node }
	constant bool
	// field tests one string property.
	field struct {
		get func(*Instance) string
		re  *regexp.Regexp
	}
	label  struct{ name, value *regexp.Regexp }
	number struct {
		get func(*Instance) int
		n   int
	}
)

func (n and) match(in *Instance) bool    { return n[0].match(in) && n[1].match(in) }
func (n or) match(in *Instance) bool     { return n[0].match(in) || n[1].match(in) }
func (n not) match(in *Instance) bool    { return !n.n.match(in) }
func (n constant) match(*Instance) bool  { return bool(n) }
func (n number) match(in *Instance) bool { return n.get(in) == n.n }
func (n field) match(in *Instance) bool  { return n.re.MatchString(n.get(in)) }

// An image operand never selects an instance without an image, as
// Vamp's does not.
type image struct{ re *regexp.Regexp }

func (n image) match(in *Instance) bool { return in.Image != "" && n.re.MatchString(in.Image) }

// A label operand selects an instance with a label whose name and value
// both match.
func (n label) match(in *Instance) bool {
	for k, v := range in.Labels {
		if n.name.MatchString(k) && n.value.MatchString(v) {
			return true
		}
	}
	return false
}

type parser struct {
	src string
	pos int
}

func (p *parser) fail(format string, args ...any) *Error {
	return &Error{Selector: p.src, Pos: p.pos + 1, Reason: fmt.Sprintf(format, args...)}
}

const space = " \n\r\t\f"

// ows skips optional white space; ws requires some.
func (p *parser) ows() bool {
	start := p.pos
	for p.pos < len(p.src) && strings.IndexByte(space, p.src[p.pos]) >= 0 {
		p.pos++
	}
	return p.pos > start
}

// word consumes one of the literals, case-insensitively if fold.
func (p *parser) word(fold bool, lits ...string) bool {
	for _, l := range lits {
		if end := p.pos + len(l); end <= len(p.src) {
			s := p.src[p.pos:end]
			if s == l || fold && strings.EqualFold(s, l) {
				p.pos = end
				return true
			}
		}
	}
	return false
}

// expression = term (("or" | "||" | "|") WS term)*
func (p *parser) expression() (node, error) {
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		save := p.pos
		if !p.word(true, "or", "||", "|") || !p.ows() {
			p.pos = save
			return left, nil
		}
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		left = or{left, right}
	}
}

// term = factor (("and" | "&&" | "&") WS factor)*
func (p *parser) term() (node, error) {
	left, err := p.factor()
	if err != nil {
		return nil, err
	}
	for {
		save := p.pos
		if !p.word(true, "and", "&&", "&") || !p.ows() {
			p.pos = save
			return left, nil
		}
		right, err := p.factor()
		if err != nil {
			return nil, err
		}
		left = and{left, right}
	}
}

// factor = OWS (("!" OWS | "not" WS) (operand | parenthesis) | operand | parenthesis) OWS
func (p *parser) factor() (node, error) {
	p.ows()
	save := p.pos
	negate := false
	if p.word(false, "!") {
		p.ows()
		negate = true
	} else if p.word(false, "not") && p.ows() {
		negate = true
	} else {
		p.pos = save
	}
	var n node
	var err error
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		p.pos++
		if n, err = p.expression(); err != nil {
			return nil, err
		}
		if !p.word(false, ")") {
			return nil, p.fail("expected ')'")
		}
	} else if n, err = p.operand(); err != nil {
		return nil, err
	}
	p.ows()
	if negate {
		n = not{n}
	}
	return n, nil
}

// operands in Vamp's order of trial: a prefix of a later one (port of
// port_index) fails on its "(" and the next is tried.
var operands = []struct {
	names []string
	read  func(p *parser) (node, error)
}{
	{[]string{"namespace", "group"}, stringOperand(func(in *Instance) string { return in.Namespace })},
	{[]string{"name", "id"}, stringOperand(func(in *Instance) string { return in.Name })},
	{[]string{"kind", "type"}, stringOperand(func(in *Instance) string { return in.Kind })},
	{[]string{"image"}, func(p *parser) (node, error) {
		re, err := p.value()
		return image{re}, err
	}},
	{[]string{"label"}, func(p *parser) (node, error) {
		name, err := p.value()
		if err != nil {
			return nil, err
		}
		p.ows()
		if !p.word(false, "(") {
			return nil, p.fail("expected '(' and the label's value")
		}
		value, err := p.value()
		return label{name, value}, err
	}},
	{[]string{"ip", "host"}, stringOperand(func(in *Instance) string { return in.IP })},
	{[]string{"port"}, numberOperand(func(in *Instance) int { return in.Port })},
	{[]string{"port_index", "index"}, numberOperand(func(in *Instance) int { return in.Index })},
}

func stringOperand(get func(*Instance) string) func(*parser) (node, error) {
	return func(p *parser) (node, error) {
		re, err := p.value()
		return field{get, re}, err
	}
}

func numberOperand(get func(*Instance) int) func(*parser) (node, error) {
	return func(p *parser) (node, error) {
		start := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		digits := p.src[start:p.pos]
		n, err := strconv.Atoi(digits)
		if err != nil {
			return nil, p.fail("expected a number")
		}
		if !p.word(false, ")") {
			return nil, p.fail("expected ')' after the number")
		}
		return number{get, n}, nil
	}
}

func (p *parser) operand() (node, error) {
	start := p.pos
	var deepest *Error
	for _, op := range operands {
		for _, name := range op.names {
			p.pos = start
			if !p.word(false, name) {
				continue
			}
			p.ows()
			if !p.word(false, "(") {
				continue // a longer operand's prefix, or a constant
			}
			n, err := op.read(p)
			if err == nil {
				return n, nil
			}
			if e, ok := err.(*Error); ok && (deepest == nil || e.Pos > deepest.Pos) {
				deepest = e
			}
		}
	}
	if deepest != nil {
		return nil, deepest
	}
	p.pos = start
	switch {
	case p.word(true, "true", "t") || p.word(false, "1"):
		return constant(true), nil
	case p.word(true, "false", "f") || p.word(false, "0"):
		return constant(false), nil
	}
	end := start
	for end < len(p.src) && strings.IndexByte(space+"()|&!", p.src[end]) < 0 {
		end++
	}
	if end == start {
		return nil, p.fail("expected a selector")
	}
	return nil, p.fail("unknown selector %q (name, id, kind, type, namespace, group, image, label, ip, host, port, port_index, index, true, false)", p.src[start:end])
}

// value reads Vamp's Value, then the ")" that closes it: printable ASCII
// without parentheses, or with one parenthesised group ("^water:(.*)$"),
// compiled to match the whole input.
func (p *parser) value() (*regexp.Regexp, error) {
	start := p.pos
	part := func() bool {
		s := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= 0x20 && p.src[p.pos] <= 0x7e && p.src[p.pos] != '(' && p.src[p.pos] != ')' {
			p.pos++
		}
		return p.pos > s
	}
	part()
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		p.pos++
		if !part() || !p.word(false, ")") {
			return nil, p.fail("expected a value in parentheses")
		}
		part()
	} else if p.pos == start {
		return nil, p.fail("expected a value")
	}
	text := p.src[start:p.pos]
	if !p.word(false, ")") {
		return nil, p.fail("expected ')'")
	}
	re, err := regexp.Compile(`^(?:` + text + `)$`)
	if err != nil {
		p.pos = start
		return nil, p.fail("%q is not a regular expression Turnout reads (RE2 syntax): %v", text, err)
	}
	return re, nil
}
