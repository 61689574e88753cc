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
// which alone would exceed the routing budget. So small patterns are also
// compiled, once, into a DFA over rune classes: one table lookup per rune,
// no allocation, no locks. Patterns the DFA does not handle (\b, (?m), too
// many states) keep using re, which is always the reference semantics.
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

// Limits that keep a DFA small and cheap to build; beyond them, fall back.
const (
	dfaMaxInsts   = 400
	dfaMaxClasses = 255
	dfaMaxCells   = 1 << 14 // states × classes
)

// A cell of the transition table holds the next state's row offset
// (state × nclass) with the state's flags in the high bits, so that each
// input rune costs one dependent load.
const (
	dfaMatch      = 1 << 31 // a match has been seen: Match is true
	dfaDead       = 1 << 30 // no match is possible any more
	dfaMatchAtEnd = 1 << 29 // a match if the input ends here ($)
	dfaOffset     = dfaMatchAtEnd - 1
)

// dfa recognises "the pattern matches somewhere in the input", the same
// question as regexp.Match, over classes of runes that no instruction of
// the program tells apart.
type dfa struct {
	ascii  [utf8.RuneSelf]uint8 // class of each ASCII rune
	bounds []rune               // class i holds runes bounds[i] to bounds[i+1]-1
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

// buildDFA returns nil when the pattern is outside what the DFA handles.
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
	// State 0 is the initial one: only there does ^ (BeginText) hold.
	start := b.closure(nil, []uint32{uint32(prog.Start)}, true, false)
	if _, ok := b.add(start, true); !ok {
		return nil
	}
	b.restart = b.closure(nil, []uint32{uint32(prog.Start)}, false, false)
	var next []int // state ids; cells are filled in once all flags are known
	for s := 0; s < len(b.sets); s++ {
		for c := 0; c < b.d.nclass; c++ {
			id, ok := b.add(b.step(b.sets[s], b.d.bounds[c]), false)
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
	sets    [][]uint32 // the NFA states of each DFA state: rune, match and pending-$ instructions
	flags   []uint32
	ids     map[string]int
	restart []uint32 // closure of the start outside position 0: unanchored search

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
// program, and rejects empty-width assertions other than ^ and $.
func (b *dfaBuilder) classes() bool {
	bounds := []rune{0}
	for i := range b.prog.Inst {
		in := &b.prog.Inst[i]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			rs := runeRanges(in)
			for j := 0; j+1 < len(rs); j += 2 {
				bounds = append(bounds, rs[j])
				if rs[j+1] < unicode.MaxRune {
					bounds = append(bounds, rs[j+1]+1)
				}
			}
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
				return false
			}
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	if len(bounds) > dfaMaxClasses {
		return false
	}
	b.d.bounds, b.d.nclass = bounds, len(bounds)
	for r := rune(0); r < utf8.RuneSelf; r++ {
		b.d.ascii[r] = uint8(b.d.search(r))
	}
	return true
}

// closure adds to set the instructions reachable from pcs without
// consuming input. begin says whether ^ holds; end whether $ does. When it
// does not, a $ instruction is kept in the set, pending, so that the end of
// input can still satisfy it.
func (b *dfaBuilder) closure(set []uint32, pcs []uint32, begin, end bool) []uint32 {
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
			op := syntax.EmptyOp(in.Arg)
			if op&syntax.EmptyBeginText != 0 && !begin {
				continue
			}
			if op&syntax.EmptyEndText != 0 && !end {
				set = append(set, pc)
				continue
			}
			stack = append(stack, in.Out)
		case syntax.InstFail:
		default: // runes and match
			set = append(set, pc)
		}
	}
	return set
}

// step returns the closure of the instructions that follow a rune of the
// class represented by r, plus a fresh start: the search is unanchored.
func (b *dfaBuilder) step(set []uint32, r rune) []uint32 {
	var outs []uint32
	for _, pc := range set {
		in := &b.prog.Inst[pc]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			if in.MatchRune(r) {
				outs = append(outs, in.Out)
			}
		}
	}
	return b.closure(slices.Clone(b.restart), outs, false, false)
}

// add returns the id of the DFA state for set, creating it if needed; ok is
// false when the table would grow past its limit.
func (b *dfaBuilder) add(set []uint32, initial bool) (id int, ok bool) {
	slices.Sort(set)
	set = slices.Compact(set)
	var key strings.Builder
	if initial {
		key.WriteString("^")
	}
	for _, pc := range set {
		key.WriteString(strconv.FormatUint(uint64(pc), 36))
		key.WriteByte(',')
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
	b.flags = append(b.flags, b.flagsOf(set, initial))
	return id, true
}

func (b *dfaBuilder) flagsOf(set []uint32, initial bool) uint32 {
	if len(set) == 0 {
		return dfaDead
	}
	var pending []uint32
	for _, pc := range set {
		switch b.prog.Inst[pc].Op {
		case syntax.InstMatch:
			return dfaMatch
		case syntax.InstEmptyWidth: // a pending $
			pending = append(pending, b.prog.Inst[pc].Out)
		}
	}
	for _, pc := range b.closure(nil, pending, initial, true) {
		if b.prog.Inst[pc].Op == syntax.InstMatch {
			return dfaMatchAtEnd
		}
	}
	return 0
}
