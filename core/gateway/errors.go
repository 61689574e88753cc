package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one problem found in a gateway document, with where it is.
// Unknown parts are zero: Source "" (an API body), Line/Column 0, Gateway ""
// (the gateway has no usable name), Field "" (the gateway or the document
// as a whole).
type FieldError struct {
	Source  string
	Line    int
	Column  int
	Gateway string
	// Field is the path of the offending field, e.g. `routes."[a:1]".weight`
	// or `virtual_hosts[1]`.
	Field string
	Err   error
}

// Error reads like
// `gateways.yaml:5:7: gateway "simpleservice": routes."[a:1]".weight: ...`.
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.Source != "":
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteString(":" + strconv.Itoa(e.Column))
			}
		}
		b.WriteString(": ")
	case e.Line > 0:
		b.WriteString("line " + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
		b.WriteString(": ")
	}
	if e.Gateway != "" {
		b.WriteString("gateway " + strconv.Quote(e.Gateway) + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// ErrorList is every problem found in one input, in document order. Decode
// returns all of them so that a user fixes a file in one go.
type ErrorList []*FieldError

// Error is one problem per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.Is and errors.As look at every problem.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns l as an error, or nil (not a typed nil) when it is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	// Checks run in passes (fields, then cross-field, then cross-gateway),
	// so order by position to read like the document.
	slices.SortStableFunc(l, func(a, b *FieldError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return l
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parserProblems are go-yaml's parser (not scanner) messages. For these it
// prints the 0-based line of its mark, and no line at all for the first
// one, so they need one added.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// syntaxError turns a go-yaml parse error ("yaml: line 3: ...") into a
// FieldError that carries the line like every other problem.
func syntaxError(source string, err error) *FieldError {
	msg := err.Error()
	fe := &FieldError{Source: source}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserProblems[msg] {
			fe.Line++
		}
	}
	fe.Err = errors.New("syntax error: " + msg)
	return fe
}

// ErrPortInUse matches (errors.Is) a set in which two gateways share a port.
var ErrPortInUse = errors.New("port used by two gateways")

// PortInUseError is the error of two gateways of a set on one port.
type PortInUseError struct {
	Port          int
	First, Second string
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d is used by gateways %s and %s", e.Port, e.First, e.Second)
}

// Is makes errors.Is(err, ErrPortInUse) true.
func (e *PortInUseError) Is(target error) bool { return target == ErrPortInUse }
