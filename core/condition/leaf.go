package condition

import (
	"errors"
	"net/netip"
	"strings"
)

// errBadAddress reports a value after "src" that is neither an address nor
// a CIDR prefix; the parser turns it into a *SyntaxError.
var errBadAddress = errors.New("not an IP address or CIDR prefix")

// build completes l, whose subject (and name) is set, from its comparison:
// this is where each operand's semantics are decided, once, so that Match
// only compares bytes. The error is errBadAddress or from regexp/syntax.
func (l *leaf) build(kind cmpKind, neg bool, val string) error {
	l.neg, l.text = neg, val
	if kind == cmpRegexp {
		re, err := compilePattern(val)
		if err != nil {
			return err
		}
		l.test, l.re = testRegexp, re
		return nil
	}
	switch l.subj {
	case subjSrc:
		pfx, ok := parsePrefix(val)
		if !ok {
			return errBadAddress
		}
		l.test, l.pfx, l.text = testPrefix, pfx, formatPrefix(pfx)
		return nil
	case subjUA:
		// Vamp's user-agent comparison is always a substring match, with
		// its two aliases (user-agents.yml) that are not plain substrings.
		l.test, l.val = testContains, []byte(val)
		switch val {
		case "IE":
			l.val = []byte("MSIE")
		case "Safari":
			l.also = []byte("Version")
		}
		return nil
	case subjHost:
		val = hostValue(val)
		l.text = val
		l.fullHost = string(stripPort([]byte(val))) != val
		l.fold = true
	case subjMethod:
		l.fold = true
	}
	if kind == cmpEqual {
		l.test = testEqual
	} else {
		l.test = testContains
	}
	l.val = []byte(val)
	if l.fold && l.test == testContains {
		l.val = []byte(strings.Map(asciiLower, val)) // containsFold wants it lower case
	}
	return nil
}

func asciiLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// hostValue brackets a bare IPv6 address, because that is how it appears in
// a Host header once the port is stripped.
func hostValue(v string) string {
	if a, err := netip.ParseAddr(v); err == nil && a.Is6() && a.Zone() == "" {
		return "[" + v + "]"
	}
	return v
}

// parsePrefix accepts a CIDR prefix or a single address. IPv4-mapped IPv6
// prefixes become IPv4 ones, to match the unmapped source address.
func parsePrefix(v string) (netip.Prefix, bool) {
	var pfx netip.Prefix
	if strings.Contains(v, "/") {
		var err error
		if pfx, err = netip.ParsePrefix(v); err != nil {
			return pfx, false
		}
	} else {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return pfx, false
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	return pfx.Masked(), true
}

func formatPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
