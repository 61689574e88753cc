package universe

// A small mustache renderer that behaves as Cosmos's (DC/OS's package
// manager) does when it renders marathon.json.mustache: mustache.java with
// HTML escaping turned off, over a context that Cosmos converts from JSON
// (PackageDefinitionRenderer.jsonToJava):
//
//   - a string is inserted JSON-escaped without its quotes, so templates
//     write "{{x}}"; a string that is an element of an array keeps its
//     quotes, so {{#list}}{{.}}{{/list}} yields JSON strings;
//   - a whole number that fits an int is an int, any other number a
//     double, printed as Java prints doubles (0.5, 1.0E-4);
//   - sections: false, null, "" and [] are false; a list iterates; anything
//     else (true, a number, an object, a non-empty string) renders once
//     with the value on top of the context stack;
//   - dotted names are resolved scope by scope from the top of the stack;
//     a scope where the whole path does not resolve is skipped, as
//     mustache.java does.
//
// Standalone-line whitespace is not trimmed: the output is JSON, where
// whitespace between tokens has no meaning, and a tag cannot sit alone on a
// line inside a JSON string. Partials and delimiter changes are refused:
// Cosmos has no partials to offer and no Universe template changes delimiters.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

type nodeKind int

const (
	textNode nodeKind = iota
	varNode
	sectionNode
	invertedNode
)

type mnode struct {
	kind     nodeKind
	text     string // literal text, or the tag's name
	children []mnode
}

// parseMustache reads a template into a tree, checking that every section
// is closed by its own name.
func parseMustache(tmpl string) ([]mnode, error) {
	type frame struct {
		node *mnode
		line int
	}
	root := &mnode{}
	stack := []frame{{node: root}}
	line := 1
	for len(tmpl) > 0 {
		open := strings.Index(tmpl, "{{")
		if open < 0 {
			top := stack[len(stack)-1].node
			top.children = append(top.children, mnode{kind: textNode, text: tmpl})
			break
		}
		if open > 0 {
			top := stack[len(stack)-1].node
			top.children = append(top.children, mnode{kind: textNode, text: tmpl[:open]})
			line += strings.Count(tmpl[:open], "\n")
		}
		rest := tmpl[open+2:]
		closer := "}}"
		triple := strings.HasPrefix(rest, "{")
		if triple {
			rest, closer = rest[1:], "}}}"
		}
		end := strings.Index(rest, closer)
		if end < 0 {
			return nil, fmt.Errorf("line %d: unclosed tag", line)
		}
		tag := rest[:end]
		tmpl = rest[end+len(closer):]
		line += strings.Count(tag, "\n")
		sigil := byte(0)
		if !triple && len(tag) > 0 && strings.IndexByte("#^/!&>=", tag[0]) >= 0 {
			sigil, tag = tag[0], tag[1:]
		}
		name := strings.TrimSpace(tag)
		if name == "" && sigil != '!' {
			return nil, fmt.Errorf("line %d: empty tag", line)
		}
		top := stack[len(stack)-1].node
		switch sigil {
		case '!':
			// A comment.
		case 0, '&':
			top.children = append(top.children, mnode{kind: varNode, text: name})
		case '#', '^':
			kind := sectionNode
			if sigil == '^' {
				kind = invertedNode
			}
			top.children = append(top.children, mnode{kind: kind, text: name})
			stack = append(stack, frame{node: &top.children[len(top.children)-1], line: line})
		case '/':
			if len(stack) == 1 {
				return nil, fmt.Errorf("line %d: {{/%s}} closes no section", line, name)
			}
			if open := stack[len(stack)-1].node.text; open != name {
				return nil, fmt.Errorf("line %d: {{/%s}} closes section %q", line, name, open)
			}
			stack = stack[:len(stack)-1]
		default:
			return nil, fmt.Errorf("line %d: {{%c...}} is not supported (no partials, no delimiter changes)", line, sigil)
		}
	}
	if len(stack) > 1 {
		f := stack[len(stack)-1]
		return nil, fmt.Errorf("line %d: section %q is never closed", f.line, f.node.text)
	}
	return root.children, nil
}

// The context values, as Cosmos hands them to mustache.java.
type (
	// jstring is a string already JSON-encoded: without quotes, or with
	// them when it is an element of an array.
	jstring string
	// jdouble is a number that is not a whole int.
	jdouble float64
)

// toMustache converts decoded JSON (numbers as json.Number) as
// jsonToJava does.
func toMustache(v any, inArray bool) (any, error) {
	switch v := v.(type) {
	case nil, bool:
		return v, nil
	case string:
		s := jsonString(v)
		if !inArray {
			s = s[1 : len(s)-1]
		}
		return jstring(s), nil
	case json.Number:
		return javaNumber(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			c, err := toMustache(e, true)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			c, err := toMustache(e, false)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected JSON value of type %T", v)
}

// javaNumber is circe's n.toInt.getOrElse(n.toDouble).
func javaNumber(n json.Number) (any, error) {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return nil, fmt.Errorf("bad number %q", n)
	}
	if r.IsInt() && r.Num().IsInt64() {
		if i := r.Num().Int64(); i >= math.MinInt32 && i <= math.MaxInt32 {
			return int(i), nil
		}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return nil, fmt.Errorf("bad number %q: %w", n, err)
	}
	return jdouble(f), nil
}

// jsonString encodes s as circe's printer does: quotes, backslashes and
// control characters escaped; no HTML escaping, non-ASCII kept.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// javaDouble prints f as Java's Double.toString: plain notation with at
// least one decimal between 1e-3 and 1e7, scientific ("1.0E7") outside.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// renderMustache renders the tree over ctx (a value from toMustache).
func renderMustache(nodes []mnode, ctx any) (string, error) {
	var b strings.Builder
	if err := renderNodes(&b, nodes, []any{ctx}); err != nil {
		return "", err
	}
	return b.String(), nil
}

func renderNodes(b *strings.Builder, nodes []mnode, stack []any) error {
	for _, n := range nodes {
		switch n.kind {
		case textNode:
			b.WriteString(n.text)
		case varNode:
			v, _ := lookup(stack, n.text)
			s, err := stringify(v)
			if err != nil {
				return fmt.Errorf("{{%s}}: %w", n.text, err)
			}
			b.WriteString(s)
		case sectionNode:
			v, _ := lookup(stack, n.text)
			if falsey(v) {
				continue
			}
			items := []any{v}
			if list, ok := v.([]any); ok {
				items = list
			}
			for _, item := range items {
				if err := renderNodes(b, n.children, append(stack[:len(stack):len(stack)], item)); err != nil {
					return err
				}
			}
		case invertedNode:
			if v, _ := lookup(stack, n.text); falsey(v) {
				if err := renderNodes(b, n.children, stack); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// lookup finds a (dotted) name, trying each scope from the top of the
// stack; "." is the top itself.
func lookup(stack []any, name string) (any, bool) {
	if name == "." {
		return stack[len(stack)-1], true
	}
	parts := strings.Split(name, ".")
	for i := len(stack) - 1; i >= 0; i-- {
		if v, ok := resolve(stack[i], parts); ok {
			return v, true
		}
	}
	return nil, false
}

func resolve(scope any, parts []string) (any, bool) {
	cur := scope
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func falsey(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case jstring:
		return v == ""
	case []any:
		return len(v) == 0
	}
	return false
}

var errObjectAsText = errors.New("an object cannot be inserted as text")

// stringify is Java's toString of the context value.
func stringify(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case jstring:
		return string(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case jdouble:
		return javaDouble(float64(v)), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := stringify(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	// A Java map would print as {k=v}, never valid JSON: refuse it.
	return "", errObjectAsText
}
