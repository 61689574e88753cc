package condition

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pattern is a compiled "~" value. Go's regexp costs a few hundred ns per
// Match even on short input (machine from a sync.Pool, NFA step per rune),
// which alone would exceed the routing budget, and its pool may allocate.
// So the pattern is also compiled, once, into a DFA over rune classes: one
// table lookup per rune, no allocation, no locks. Only patterns whose DFA
// would be too big keep using re, which is always the reference semantics.
type pattern struct {
	re  *regexp.Regexp
	dfa *dfa // nil: use re
}

func compilePattern(expr string) (*pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	return &pattern{re: re, dfa: buildDFA(expr)}, nil
}

func (p *pattern) match(b []byte) bool {
	if p.dfa != nil {
		return p.dfa.match(b)
	}
	return p.re.Match(b)
}

// Limits that keep a DFA small (at most 64 KiB of table) and cheap to
// build; beyond them, fall back to regexp.
const (
	dfaMaxInsts   = 500
	dfaMaxClasses = 1 << 12
	dfaMaxCells   = 1 << 14 // states × classes
)

// A cell of the transition table holds the next state's row offset
// (state × nclass) with the state's flags in the high bits, so that each
// input rune costs one dependent load.
const (
	dfaMatch      = 1 << 31 // a match has been seen: Match is true
	dfaDead       = 1 << 30 // no match is possible any more
	dfaMatchAtEnd = 1 << 29 // a match if the input ends here
	dfaOffset     = dfaMatchAtEnd - 1
)

// dfa recognises "the pattern matches somewhere in the input", the same
// question as regexp.Match, over classes of runes that no instruction of
// the program tells apart.
type dfa struct {
	ascii  [utf8.RuneSelf]uint16 // class of each ASCII rune
	bounds []rune                // class i holds runes bounds[i] to bounds[i+1]-1
	nclass int
	start  uint32   // cell of the initial state
	trans  []uint32 // trans[row offset + class] is the next state's cell
}

func (d *dfa) class(r rune) int {
	if r < utf8.RuneSelf {
		return int(d.ascii[r])
	}
	return d.search(r)
}

func (d *dfa) search(r rune) int {
	lo, hi := 0, len(d.bounds) // invariant: bounds[lo] <= r < bounds[hi]
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if d.bounds[m] <= r {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

func (d *dfa) match(b []byte) bool {
	e := d.start
	for i := 0; ; {
		if e&(dfaMatch|dfaDead) != 0 {
			return e&dfaMatch != 0
		}
		if i >= len(b) {
			return e&dfaMatchAtEnd != 0
		}
		var c int
		if b[i] < utf8.RuneSelf {
			c = int(d.ascii[b[i]])
			i++
		} else {
			// Invalid UTF-8 decodes to U+FFFD of width 1, as in regexp.
			r, n := utf8.DecodeRune(b[i:])
			c = d.class(r)
			i += n
		}
		e = d.trans[int(e&dfaOffset)+c]
	}
}

// A DFA state is a set of NFA instructions plus what the previous rune was,
// as far as empty-width assertions care (syntax.EmptyOpContext): nothing
// (start of text), a newline, a word character, or anything else. Assertions
// (^ $ \A \z \b \B and their (?m) forms) also depend on the next rune, so
// the subset construction keeps them pending in the set and resolves them
// on the next transition, or at the end of input.
const (
	prevBegin   rune = -1
	prevNewline rune = '\n'
	prevWord    rune = 'a'
	prevOther   rune = 0
)

func prevOf(r rune) rune {
	switch {
	case syntax.IsWordChar(r):
		return prevWord
	case r == '\n':
		return prevNewline
	}
	return prevOther
}

// buildDFA returns nil when the DFA would exceed the limits.
func buildDFA(expr string) *dfa {
	re, err := syntax.Parse(expr, syntax.Perl) // the flags regexp.Compile uses
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil || len(prog.Inst) > dfaMaxInsts {
		return nil
	}
	b := &dfaBuilder{prog: prog, ids: map[string]int{}}
	if !b.classes() {
		return nil
	}
	b.restart = b.closure(nil, []uint32{uint32(prog.Start)}, 0, false)
	if _, ok := b.add(slices.Clone(b.restart), prevBegin); !ok {
		return nil
	}
	var next []int // state ids; cells are filled in once all flags are known
	for s := 0; s < len(b.sets); s++ {
		for c := 0; c < b.d.nclass; c++ {
			set, prev := b.step(s, b.d.bounds[c])
			id, ok := b.add(set, prev)
			if !ok {
				return nil
			}
			next = append(next, id)
		}
	}
	cell := func(id int) uint32 { return uint32(id*b.d.nclass) | b.flags[id] }
	b.d.start = cell(0)
	b.d.trans = make([]uint32, len(next))
	for i, id := range next {
		b.d.trans[i] = cell(id)
	}
	return &b.d
}

type dfaBuilder struct {
	prog    *syntax.Prog
	d       dfa
	sets    [][]uint32 // NFA instructions of each DFA state: runes, match, pending assertions
	prevs   []rune     // previous-rune category of each DFA state
	flags   []uint32
	ids     map[string]int
	restart []uint32 // closure of the start: the search is unanchored

	// Scratch space of closure: seen[pc] == gen marks a visited instruction.
	seen  []uint32
	gen   uint32
	stack []uint32
}

// runeRanges returns the runes an instruction consumes, as lo,hi pairs.
func runeRanges(in *syntax.Inst) []rune {
	switch in.Op {
	case syntax.InstRune1:
		return []rune{in.Rune[0], in.Rune[0]}
	case syntax.InstRuneAny:
		return []rune{0, unicode.MaxRune}
	case syntax.InstRuneAnyNotNL:
		return []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}
	}
	if len(in.Rune) == 1 { // a single rune, case-folded: its whole orbit
		var rs []rune
		r0 := in.Rune[0]
		rs = append(rs, r0, r0)
		if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
			for r := unicode.SimpleFold(r0); r != r0; r = unicode.SimpleFold(r) {
				rs = append(rs, r, r)
			}
		}
		return rs
	}
	return in.Rune
}

// classes splits the runes into classes at every range boundary of the
// program; with assertions, also at newline and word characters, so that
// every rune of a class has the same effect on them.
func (b *dfaBuilder) classes() bool {
	bounds := []rune{0}
	addRanges := func(rs []rune) {
		for j := 0; j+1 < len(rs); j += 2 {
			bounds = append(bounds, rs[j])
			if rs[j+1] < unicode.MaxRune {
				bounds = append(bounds, rs[j+1]+1)
			}
		}
	}
	for i := range b.prog.Inst {
		in := &b.prog.Inst[i]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			addRanges(runeRanges(in))
		case syntax.InstEmptyWidth:
			addRanges([]rune{'\n', '\n', '0', '9', 'A', 'Z', '_', '_', 'a', 'z'})
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	if len(bounds) > dfaMaxClasses {
		return false
	}
	b.d.bounds, b.d.nclass = bounds, len(bounds)
	for r := rune(0); r < utf8.RuneSelf; r++ {
		b.d.ascii[r] = uint16(b.d.search(r))
	}
	return true
}

// closure adds to set the instructions reachable from pcs without
// consuming input. With resolve, assertions are decided by ctx; without,
// they are kept in the set, pending.
func (b *dfaBuilder) closure(set []uint32, pcs []uint32, ctx syntax.EmptyOp, resolve bool) []uint32 {
	if b.seen == nil {
		b.seen = make([]uint32, len(b.prog.Inst))
	}
	b.gen++
	stack := append(b.stack[:0], pcs...)
	defer func() { b.stack = stack[:0] }()
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if b.seen[pc] == b.gen {
			continue
		}
		b.seen[pc] = b.gen
		in := &b.prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Out, in.Arg)
		case syntax.InstCapture, syntax.InstNop:
			stack = append(stack, in.Out)
		case syntax.InstEmptyWidth:
			switch {
			case !resolve:
				set = append(set, pc)
			case syntax.EmptyOp(in.Arg)&^ctx == 0:
				stack = append(stack, in.Out)
			}
		case syntax.InstFail:
		default: // runes and match
			set = append(set, pc)
		}
	}
	return set
}

// resolve decides the pending assertions of set, given the previous and the
// next rune (-1 at the end of input), and returns the instructions then
// active: runes ready to consume the next rune, and possibly a match.
func (b *dfaBuilder) resolve(set []uint32, prev, next rune) []uint32 {
	ctx := syntax.EmptyOpContext(prev, next)
	var out, pending []uint32
	for _, pc := range set {
		if in := &b.prog.Inst[pc]; in.Op != syntax.InstEmptyWidth {
			out = append(out, pc)
		} else if syntax.EmptyOp(in.Arg)&^ctx == 0 {
			pending = append(pending, in.Out)
		}
	}
	return b.closure(out, pending, ctx, true)
}

func (b *dfaBuilder) hasMatch(set []uint32) bool {
	for _, pc := range set {
		if b.prog.Inst[pc].Op == syntax.InstMatch {
			return true
		}
	}
	return false
}

// step returns the state after a rune of the class represented by r: the
// instructions that follow it, plus a fresh start, since the search is
// unanchored.
func (b *dfaBuilder) step(s int, r rune) ([]uint32, rune) {
	active := b.resolve(b.sets[s], b.prevs[s], r)
	if b.hasMatch(active) { // a match ended just before r
		return []uint32{active[slices.IndexFunc(active, func(pc uint32) bool {
			return b.prog.Inst[pc].Op == syntax.InstMatch
		})]}, prevOther
	}
	var outs []uint32
	for _, pc := range active {
		in := &b.prog.Inst[pc]
		if in.Op != syntax.InstMatch && in.MatchRune(r) {
			outs = append(outs, in.Out)
		}
	}
	return b.closure(slices.Clone(b.restart), outs, 0, false), prevOf(r)
}

// add returns the id of the DFA state (set, prev), creating it if needed;
// ok is false when the table would grow past its limit.
func (b *dfaBuilder) add(set []uint32, prev rune) (id int, ok bool) {
	slices.Sort(set)
	set = slices.Compact(set)
	var key strings.Builder
	key.WriteString(strconv.Itoa(int(prev)))
	for _, pc := range set {
		key.WriteByte(',')
		key.WriteString(strconv.FormatUint(uint64(pc), 36))
	}
	if id, ok := b.ids[key.String()]; ok {
		return id, true
	}
	id = len(b.sets)
	if (id+1)*b.d.nclass > dfaMaxCells {
		return 0, false
	}
	b.ids[key.String()] = id
	b.sets = append(b.sets, set)
	b.prevs = append(b.prevs, prev)
	var f uint32
	switch {
	case b.hasMatch(set):
		f = dfaMatch
	case len(set) == 0:
		f = dfaDead
	case b.hasMatch(b.resolve(set, prev, -1)):
		f = dfaMatchAtEnd
	}
	b.flags = append(b.flags, f)
	return id, true
}
