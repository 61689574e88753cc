package dataplane

import "errors"

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
// are split, up to the empty line that ends it.
type headCheck struct {
	done      bool
	prev      byte // the byte before
	lineLen   int  // bytes of the current line, CR aside
	lineStart bool // the current line has no byte yet (and is not the first)
}

// scan checks the next bytes of a head; those after its end are not looked at.
func (h *headCheck) scan(b []byte) error {
	for _, c := range b {
		switch {
		case c == '\n':
			if h.prev != '\r' {
				return errBareLF
			}
			if h.lineLen == 0 {
				h.done = true
				return nil
			}
			h.lineLen, h.lineStart = 0, true
		case h.lineStart && (c == ' ' || c == '\t'):
			return errFolded
		case c != '\r':
			h.lineLen++
			h.lineStart = false
		}
		h.prev = c
	}
	return nil
}
