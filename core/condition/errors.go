package condition

import "strconv"

// SyntaxError is returned by Compile for text that does not parse, and for
// values that parse but do not compile (a bad regexp after "~", a bad
// address after "src").
type SyntaxError struct {
	Pos      int    // 1-based character (rune) position in src where the problem is
	Found    string // what was found there, ready to display: a quoted token, or "end of input"
	Expected string // what was expected, e.g. `"==", "!=", "has" or "misses"`
	Src      string

	msg string // the message after "position N: "; derived from the fields when empty
	err error  // the underlying error, e.g. from regexp.Compile
}

// Error returns e.g. `position 14: expected a value after "==", found end of input`.
func (e *SyntaxError) Error() string {
	msg := e.msg
	if msg == "" {
		msg = "expected " + e.Expected + ", found " + e.Found
	}
	return "position " + strconv.Itoa(e.Pos) + ": " + msg
}

// Unwrap returns the underlying error, if any (a *regexp/syntax.Error for a
// bad regular expression), for errors.As.
func (e *SyntaxError) Unwrap() error { return e.err }
