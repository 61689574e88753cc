package condition

import (
	"bytes"
	"net/netip"
	"slices"
)

// Matcher is a compiled condition. It is immutable and safe for concurrent
// use by any number of goroutines.
type Matcher struct {
	root node    // the parsed tree, as written (String prints it)
	prog []instr // the tree lowered for Match
	src  string  // normalised source, built once by Compile
}

// String returns the normalised source: lower-case keywords, one canonical
// spelling per comparison, single spaces, parentheses only where needed.
// Compiling it again gives a matcher that behaves the same.
func (m *Matcher) String() string { return m.src }

// node is one vertex of the parsed tree: andNode, orNode, notNode or *leaf.
type node interface{ isNode() }

type andNode []node

type orNode []node

// notNode only ever wraps an andNode or orNode: negating a leaf flips the
// leaf's own flag instead.
type notNode struct{ kid node }

func (andNode) isNode() {}
func (orNode) isNode()  {}
func (notNode) isNode() {}
func (*leaf) isNode()   {}

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
	subjVhost // Turnout's host: no port, any case
	subjRaw   // a raw HAProxy ACL
)

// test is what a leaf checks on its subject.
type test uint8

const (
	testPresent  test = iota // the header, cookie or query argument exists
	testEqual                // the value equals val
	testContains             // the value contains val
	testRegexp               // re matches somewhere in the value
	testPrefix               // the source address is in pfx
	testACL                  // every one of acls matches (HAProxy semantics)
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
	fullHost bool // compare the Host header with its port
	name     []byte
	val      []byte
	re       *pattern
	pfx      netip.Prefix
	acls     []*acl // testACL: the HAProxy ACLs Vamp generated, all must match
	text     string // the value as displayed by String
}

// instr is a leaf of the lowered tree: a branching program in which each
// leaf says where to go on true and on false. Lowering emits every leaf
// once, so the program is as long as the condition (no DNF blow-up as in
// Vamp), and evaluation short-circuits exactly as the tree would; but Match
// runs it in one loop, without a call per node.
type instr struct {
	leaf
	onTrue, onFalse int32 // next instruction, or accept or reject
}

const (
	accept int32 = -1
	reject int32 = -2
)

// Match reports whether r satisfies the condition. It does not allocate:
// values were converted to []byte and regexps compiled by Compile.
func (m *Matcher) Match(r Request) bool {
	prog := m.prog
	pc := int32(0)
	for {
		in := &prog[pc]
		if in.test == testACL {
			res := true
			for _, a := range in.acls {
				if res = a.match(r); !res {
					break
				}
			}
			next := in.onFalse
			if res {
				next = in.onTrue
			}
			if next < 0 {
				return next == accept
			}
			pc = next
			continue
		}
		var v []byte
		ok := true
		switch in.subj {
		case subjHost, subjVhost:
			v = r.Host()
			if !in.fullHost {
				v = stripPort(v)
			}
		case subjUA:
			v, ok = r.Header(userAgentHeader)
		case subjHeader:
			v, ok = r.Header(in.name)
		case subjCookie:
			v, ok = r.Cookie(in.name)
		case subjPath:
			v = r.Path()
		case subjMethod:
			v = r.Method()
		case subjQuery:
			v, ok = r.Query(in.name)
		}
		res := false
		switch in.test {
		case testPresent:
			res = ok
		case testEqual:
			if in.fold {
				res = ok && equalFold(v, in.val)
			} else {
				res = ok && string(v) == string(in.val)
			}
		case testContains:
			if in.fold {
				res = ok && containsFold(v, in.val)
			} else {
				res = ok && bytes.Contains(v, in.val)
			}
		case testRegexp:
			if ok {
				if d := in.re.dfa; d != nil {
					res = d.match(v)
				} else {
					res = in.re.re.Match(v)
				}
			}
		case testPrefix:
			// A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d and a
			// zone makes Prefix.Contains false; neither should defeat "src".
			a := r.Source().Unmap().WithZone("")
			res = a.IsValid() && in.pfx.Contains(a)
		}
		next := in.onFalse
		if res {
			next = in.onTrue
		}
		if next < 0 {
			return next == accept
		}
		pc = next
	}
}

// lowerTree compiles the tree into the branching program of Match.
func lowerTree(root node) []instr {
	var prog []instr
	var gen func(n node, t, f int32)
	gen = func(n node, t, f int32) {
		switch n := n.(type) {
		case *leaf:
			in := instr{leaf: *n, onTrue: t, onFalse: f}
			if in.subj == subjHeader {
				in.name = canonicalHeader(in.name)
			}
			if n.neg {
				in.onTrue, in.onFalse = f, t
			}
			prog = append(prog, in)
		case notNode:
			gen(n.kid, f, t)
		case andNode:
			kids := byCost(n)
			for i, k := range kids {
				if i == len(kids)-1 {
					gen(k, t, f)
				} else {
					gen(k, int32(len(prog)+leaves(k)), f) // true: on to the next
				}
			}
		case orNode:
			kids := byCost(n)
			for i, k := range kids {
				if i == len(kids)-1 {
					gen(k, t, f)
				} else {
					gen(k, t, int32(len(prog)+leaves(k))) // false: on to the next
				}
			}
		}
	}
	gen(root, accept, reject)
	return prog
}

func leaves(n node) int {
	switch n := n.(type) {
	case *leaf:
		return 1
	case notNode:
		return leaves(n.kid)
	case andNode:
		c := 0
		for _, k := range n {
			c += leaves(k)
		}
		return c
	case orNode:
		c := 0
		for _, k := range n {
			c += leaves(k)
		}
		return c
	}
	return 0
}

// byCost returns the operands cheapest first. Leaves have no side effects,
// so the order of evaluation cannot change the result, only how soon a
// short-circuit happens; String keeps the order as written.
func byCost(kids []node) []node {
	kids = slices.Clone(kids)
	slices.SortStableFunc(kids, func(a, b node) int { return cost(a) - cost(b) })
	return kids
}

// cost is a rough relative price of evaluating n.
func cost(n node) int {
	switch n := n.(type) {
	case *leaf:
		c := [...]int{subjHost: 3, subjUA: 4, subjHeader: 4, subjCookie: 3,
			subjPath: 1, subjMethod: 1, subjQuery: 3, subjSrc: 1, subjVhost: 3, subjRaw: 4}[n.subj]
		c += [...]int{testPresent: 0, testEqual: 1, testContains: 3, testRegexp: 8, testPrefix: 1, testACL: 3}[n.test]
		if n.subj == subjUA && n.test == testACL {
			c += 3 // long value
		}
		return c
	case notNode:
		return cost(n.kid)
	case andNode:
		c := 0
		for _, k := range n {
			c += cost(k)
		}
		return c
	case orNode:
		c := 0
		for _, k := range n {
			c += cost(k)
		}
		return c
	}
	return 0
}

// canonicalHeader spells a header name the way HTTP servers store it
// (each dash-separated word capitalised: "X-Vamp-Header"), so a Request can
// find it by an exact comparison instead of a case-insensitive scan.
func canonicalHeader(name []byte) []byte {
	out := make([]byte, len(name))
	upper := true
	for i, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		out[i] = c
		upper = c == '-'
	}
	return out
}
