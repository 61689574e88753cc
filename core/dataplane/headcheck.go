package dataplane

import (
	"bytes"
	"errors"
)

// Response heads that fasthttp reads its own way: a line ended by a bare
// LF makes it wait for a CRLF until the route's timeout, and a folded line
// (obs-fold) it joins into one. HAProxy answers both with a 502 at once,
// and so does Turnout: a folded line is one an endpoint and a client may
// read differently.
var (
	errBareLF = errors.New("malformed response head from the endpoint: a line ends in LF without CR")
	errFolded = errors.New("malformed response head from the endpoint: a folded header line")
)

// headCheck follows a response head as its bytes come, whatever way they
// are split, up to the empty line that ends it. It jumps from LF to LF
// (bytes.IndexByte), so a head costs a few searches, not a step per byte:
// the event loops check every response head.
type headCheck struct {
	done      bool
	prev      byte // the last byte seen
	text      bool // the current line has a byte other than CR
	lineStart bool // the current line has no byte yet (and is not the first)
}

// scan checks the next bytes of a head; those after its end are not looked at.
func (h *headCheck) scan(b []byte) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		if len(seg) > 0 {
			if h.lineStart && (seg[0] == ' ' || seg[0] == '\t') {
				return errFolded
			}
			h.lineStart = false
			h.text = h.text || hasText(seg)
			h.prev = seg[len(seg)-1]
		}
		if i < 0 {
			return nil
		}
		if h.prev != '\r' {
			return errBareLF
		}
		if !h.text {
			h.done = true
			return nil
		}
		h.text, h.lineStart, h.prev = false, true, '\n'
		b = b[i+1:]
	}
	return nil
}

// hasText reports whether seg has a byte other than CR (it returns at the
// first byte of any real line).
func hasText(seg []byte) bool {
	for _, c := range seg {
		if c != '\r' {
			return true
		}
	}
	return false
}
