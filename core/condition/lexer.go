package condition

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// scanner reads the condition text on demand. The parser drives it, asking
// for a keyword, a name or a value, because what a character means depends on
// where it is: "a&&b" is one value after "==" but two operands elsewhere.
// Offsets are bytes; errors convert them to rune positions.
type scanner struct {
	src string
	off int
}

// isSpace reports the separators between tokens.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

// isKeywordByte reports the characters of a keyword. Keywords are ASCII so
// that Unicode case folding (e.g. "ſ" folding to "s") cannot make them match.
func isKeywordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_'
}

// isSymbolByte reports the characters of the symbolic operators.
func isSymbolByte(c byte) bool {
	switch c {
	case '=', '!', '~', '&', '|', '<', '>':
		return true
	}
	return false
}

// isValueRune reports the characters of an unquoted value: anything visible
// except parentheses, so that "(host == a)" closes where it should.
func isValueRune(r rune, size int) bool {
	if r == utf8.RuneError && size <= 1 {
		return false // invalid UTF-8 must be quoted
	}
	return r != '(' && r != ')' && unicode.IsGraphic(r) && !isSpace(r)
}

// isNameRune reports the characters of an unquoted header, cookie or query
// name: those of a value, as in Vamp's lexer, whose names run to the next
// blank or parenthesis ("header X-A==b" is the name "X-A==b").
func isNameRune(r rune, size int) bool { return isValueRune(r, size) }

func (s *scanner) eof() bool { return s.off >= len(s.src) }

func (s *scanner) skipSpace() {
	for s.off < len(s.src) {
		r, n := utf8.DecodeRuneInString(s.src[s.off:])
		if !isSpace(r) {
			return
		}
		s.off += n
	}
}

// peek returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.off]
}

// keyword reads a run of keyword characters (possibly empty) without
// consuming it; the caller advances with s.off = end when it accepts it.
func (s *scanner) keyword() (word string, end int) {
	end = s.off
	for end < len(s.src) && isKeywordByte(s.src[end]) {
		end++
	}
	return s.src[s.off:end], end
}

// hasPrefix reports whether the text at the cursor starts with op.
func (s *scanner) hasPrefix(op string) bool {
	return len(s.src)-s.off >= len(op) && s.src[s.off:s.off+len(op)] == op
}

// run returns the end of the run of runes satisfying ok, starting at off.
func (s *scanner) run(off int, ok func(rune, int) bool) int {
	for off < len(s.src) {
		r, n := utf8.DecodeRuneInString(s.src[off:])
		if !ok(r, n) {
			break
		}
		off += n
	}
	return off
}

// quoted reads a 'single' or "double" quoted string at the cursor, where a
// doubled quote stands for one. ok is false when it is not closed.
func (s *scanner) quoted() (val string, ok bool) {
	q := s.src[s.off]
	i := s.off + 1
	var buf []byte
	start := i
	for i < len(s.src) {
		if s.src[i] != q {
			i++
			continue
		}
		if i+1 < len(s.src) && s.src[i+1] == q {
			buf = append(buf, s.src[start:i+1]...)
			i += 2
			start = i
			continue
		}
		s.off = i + 1
		if buf == nil {
			return s.src[start:i], true
		}
		return string(append(buf, s.src[start:i]...)), true
	}
	s.off = len(s.src)
	return "", false
}

// found describes the text at off for an error message: "end of input" or
// the quoted token that starts there.
func (s *scanner) found(off int) string {
	if off >= len(s.src) {
		return "end of input"
	}
	c := s.src[off]
	end := off
	switch {
	case c == '(' || c == ')':
		end = off + 1
	case isKeywordByte(c):
		for end < len(s.src) && isKeywordByte(s.src[end]) {
			end++
		}
	case isSymbolByte(c):
		for end < len(s.src) && isSymbolByte(s.src[end]) {
			end++
		}
	default:
		end = s.run(off, isValueRune)
		if end == off {
			_, n := utf8.DecodeRuneInString(s.src[off:])
			end = off + n
		}
	}
	return quoteFound(s.src[off:end])
}

// quoteFound quotes tok for an error message, cut to a readable length.
func quoteFound(tok string) string {
	const max = 32
	if utf8.RuneCountInString(tok) > max {
		i, n := 0, 0
		for n < max {
			_, w := utf8.DecodeRuneInString(tok[i:])
			i += w
			n++
		}
		return strconv.Quote(tok[:i]) + "..."
	}
	return strconv.Quote(tok)
}

// pos converts a byte offset into the 1-based rune position of errors.
func (s *scanner) pos(off int) int {
	if off > len(s.src) {
		off = len(s.src)
	}
	return utf8.RuneCountInString(s.src[:off]) + 1
}
