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
// only compares bytes. The error is errBadAddress, from regexp/syntax, or
// an *aclError.
//
// Vamp's own forms compile to the HAProxy ACLs Vamp generated for them
// (HaProxyAclResolver.scala), so they match what HAProxy matched.
func (l *leaf) build(kind cmpKind, neg bool, val string) error {
	l.neg, l.text = neg, val
	if kind == cmpRegexp {
		re, err := compilePattern(val)
		if err != nil {
			return err
		}
		l.test, l.re = testRegexp, re
		l.fullHost = l.subj == subjHost // Vamp's host is the whole header
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
	case subjHost:
		// Every positive comparison is the same: "req.hdr(host) VALUE",
		// HAProxy's exact, case-sensitive match of the whole header.
		return l.buildACLs("req.hdr(host) " + val)
	case subjUA:
		// Always a substring, "req.fhdr(User-Agent) -m sub 'VALUE'", or an
		// alias from user-agents.yml looked up in upper case.
		if subs, ok := userAgentAliases[strings.ToUpper(val)]; ok {
			var defs []string
			for _, s := range subs {
				defs = append(defs, "req.fhdr(User-Agent) -m sub '"+s+"'")
			}
			return l.buildACLs(defs...)
		}
		return l.buildACLs("req.fhdr(User-Agent) -m sub '" + val + "'")
	case subjHeader:
		if kind == cmpContains {
			return l.buildACLs("req.fhdr(" + string(l.name) + ") -m sub '" + val + "'")
		}
	case subjCookie:
		if kind == cmpContains {
			// Vamp wrote req.cook_sub(NAME), which HAProxy refuses
			// ("unknown fetch method"); cook_sub is the fetch it meant.
			return l.buildACLs("cook_sub(" + string(l.name) + ") " + val)
		}
	case subjVhost:
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

// userAgentAliases is Vamp's user-agents.yml: each alias stands for all of
// its substrings.
var userAgentAliases = map[string][]string{
	"CHROME":  {"Chrome"},
	"FIREFOX": {"Firefox"},
	"SAFARI":  {"Safari", "Version"},
	"EDGE":    {"Edge"},
	"IE":      {"MSIE"},
}

// buildACLs makes l a testACL leaf over the HAProxy ACL definitions.
func (l *leaf) buildACLs(defs ...string) error {
	l.test = testACL
	for _, d := range defs {
		words, err := haproxyWords(d)
		if err != nil {
			return &aclError{"Vamp writes this value into an HAProxy ACL, where it has an " + err.Error()}
		}
		a, err := parseACL(words)
		if err != nil {
			return err
		}
		l.acls = append(l.acls, a)
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
