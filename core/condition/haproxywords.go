package condition

import (
	"errors"
	"strings"
)

// haproxyWords splits text into words as HAProxy's configuration parser
// does for an "acl" or condition line: blanks separate words; 'single
// quotes' keep everything literally; "double quotes" and unquoted text take
// a backslash as an escape of the next character; an unquoted '#' starts a
// comment that runs to the end. Quotes join with adjacent text into one
// word ('a'b is "ab"). HAProxy's "$VAR" expansion inside double quotes is
// not performed: the text stays as written.
//
// Vamp wrote its conditions into such lines, so a value it put unquoted
// (host, cookie substrings) became several patterns when it held blanks.
func haproxyWords(text string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '#':
			i = len(text)
		case c == '\\':
			if i+1 < len(text) {
				i++
				w.WriteByte(text[i])
			}
			inWord = true
		case c == '\'':
			end := strings.IndexByte(text[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unmatched single quote")
			}
			w.WriteString(text[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			j := i + 1
			for ; j < len(text) && text[j] != '"'; j++ {
				if text[j] == '\\' && j+1 < len(text) {
					j++
				}
				w.WriteByte(text[j])
			}
			if j >= len(text) {
				return nil, errors.New("unmatched double quote")
			}
			i = j
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}
