package condition

import (
	"bytes"
	"encoding/binary"
	"net/netip"
)

// Matcher is a compiled condition. It is immutable and safe for concurrent
// use by any number of goroutines.
type Matcher struct {
	root node
	src  string // normalised source, built once by Compile
}

// Match reports whether r satisfies the condition. It does not allocate:
// values were converted to []byte and regexps compiled by Compile.
func (m *Matcher) Match(r Request) bool { return m.root.eval(r) }

// String returns the normalised source: lower-case keywords, one canonical
// spelling per comparison, single spaces, parentheses only where needed.
// Compiling it again gives a matcher that behaves the same.
func (m *Matcher) String() string { return m.src }

// node is one vertex of the compiled tree. Evaluation short-circuits, so the
// cost is linear in the size of the condition (no DNF flattening as in Vamp).
type node interface {
	eval(r Request) bool
}

type andNode []node

func (n andNode) eval(r Request) bool {
	for _, k := range n {
		if !k.eval(r) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) eval(r Request) bool {
	for _, k := range n {
		if k.eval(r) {
			return true
		}
	}
	return false
}

// notNode only ever wraps an andNode or orNode: negating a leaf flips the
// leaf's own flag instead.
type notNode struct{ kid node }

func (n notNode) eval(r Request) bool { return !n.kid.eval(r) }

// subject is the part of the request a leaf reads.
type subject uint8

const (
	subjHost subject = iota
	subjUA
	subjHeader
	subjCookie
	subjPath
	subjMethod
	subjQuery
	subjSrc
)

// test is what a leaf checks on its subject.
type test uint8

const (
	testPresent  test = iota // the header, cookie or query argument exists
	testEqual                // the value equals val
	testContains             // the value contains val (and also, if set)
	testRegexp               // re matches somewhere in the value
	testPrefix               // the source address is in pfx
)

var userAgentHeader = []byte("User-Agent")

// leaf is one comparison. Its positive form is false when the subject is
// absent, so a negated comparison on an absent header, cookie or query
// argument is true: absent does not contain v.
type leaf struct {
	subj     subject
	test     test
	neg      bool
	fold     bool // ASCII case-insensitive comparison (host, method)
	fullHost bool // compare the Host header with its port: the value has one
	name     []byte
	val      []byte
	also     []byte // second needle of the Safari alias
	re       *pattern
	pfx      netip.Prefix
	text     string // the value as displayed by String
}

func (l *leaf) eval(r Request) bool { return l.positive(r) != l.neg }

func (l *leaf) positive(r Request) bool {
	var v []byte
	ok := true
	switch l.subj {
	case subjHost:
		v = r.Host()
		if !l.fullHost {
			v = stripPort(v)
		}
	case subjUA:
		v, ok = r.Header(userAgentHeader)
	case subjHeader:
		v, ok = r.Header(l.name)
	case subjCookie:
		v, ok = r.Cookie(l.name)
	case subjPath:
		v = r.Path()
	case subjMethod:
		v = r.Method()
	case subjQuery:
		v, ok = r.Query(l.name)
	case subjSrc:
		// A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d and a
		// zone makes Prefix.Contains false; neither should defeat "src".
		a := r.Source().Unmap().WithZone("")
		return a.IsValid() && l.pfx.Contains(a)
	}
	if !ok {
		return false
	}
	switch l.test {
	case testPresent:
		return true
	case testEqual:
		if l.fold {
			return equalFold(v, l.val)
		}
		return bytes.Equal(v, l.val)
	case testContains:
		if l.fold {
			return containsFold(v, l.val)
		}
		return bytes.Contains(v, l.val) && (l.also == nil || bytes.Contains(v, l.also))
	case testRegexp:
		return l.re.match(v)
	}
	return false
}

// stripPort returns the host part of a Host header: "[::1]:80" gives
// "[::1]", "a.example:8080" gives "a.example". A bare IPv6 address (several
// colons, no brackets) is returned whole. The port is scanned from the end
// because most Host headers have none and end in a letter.
func stripPort(h []byte) []byte {
	i := len(h) - 1
	for i >= 0 && h[i] >= '0' && h[i] <= '9' {
		i--
	}
	if i < 0 || h[i] != ':' {
		return h
	}
	if i > 0 && h[i-1] == ']' || bytes.IndexByte(h[:i], ':') < 0 {
		return h[:i]
	}
	return h
}

// containsFold is an ASCII case-insensitive bytes.Contains; sub is already
// lower case. Hosts and methods are ASCII, and this never allocates.
func containsFold(s, sub []byte) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n && lower(s[i+j]) == sub[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// equalFold is an ASCII-only bytes.EqualFold: Unicode folding would let
// "\u212a" (Kelvin sign) equal "k" in a host name. It compares eight bytes
// at a time, after trying plain equality, the common case.
func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if string(a) == string(b) {
		return true
	}
	i := 0
	for ; i+8 <= len(a); i += 8 {
		if lower8(binary.LittleEndian.Uint64(a[i:])) != lower8(binary.LittleEndian.Uint64(b[i:])) {
			return false
		}
	}
	for ; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// lower8 lower-cases the ASCII letters among eight bytes (SWAR): a byte's
// high bit is set in upper when it is in 'A'..'Z', and 0x80>>2 is 0x20.
func lower8(x uint64) uint64 {
	const ones = 0x0101010101010101
	h := x & (0x7f * ones) // no carry between bytes below
	upper := (h + (0x80-'A')*ones) &^ (h + (0x80-'Z'-1)*ones) &^ x & (0x80 * ones)
	return x | upper>>2
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
