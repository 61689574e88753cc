package condition

import "bytes"

var hostHeader = []byte("Host")

// match evaluates the ACL on r: true when any pattern matches any value
// the fetch yields. It does not allocate.
func (a *acl) match(r Request) bool {
	switch a.fetch {
	case fetchHdr, fetchFhdr, fetchHdrCnt:
		v, ok := a.header(r)
		if a.fetch == fetchHdrCnt {
			n := 0
			if ok {
				n = countValues(v)
			}
			return a.method == mFound || a.matchInt(int64(n))
		}
		if !ok {
			return false
		}
		if a.fetch == fetchFhdr {
			return a.matchString(v)
		}
		// hdr: every comma-separated value, blanks around it dropped.
		if bytes.IndexByte(v, ',') < 0 {
			return a.matchString(trimBlanks(v))
		}
		for len(v) > 0 || ok {
			var one []byte
			one, v, ok = nextValue(v)
			if a.matchString(one) {
				return true
			}
		}
		return false
	case fetchPath:
		return a.matchString(r.Path())
	case fetchURLParam:
		v, ok := r.Query(a.name)
		return ok && a.matchString(v)
	case fetchCook:
		v, ok := r.Cookie(a.name)
		return ok && a.matchString(v)
	case fetchCookCnt:
		n := int64(0)
		if _, ok := r.Cookie(a.name); ok {
			n = 1
		}
		return a.method == mFound || a.matchInt(n)
	case fetchSrc:
		s := r.Source().Unmap().WithZone("")
		if !s.IsValid() {
			return false
		}
		if a.method == mFound {
			return true
		}
		for _, p := range a.pfxs {
			if p.Contains(s) {
				return true
			}
		}
		return false
	case fetchMethod:
		m := r.Method()
		if a.method == mFound {
			return true
		}
		known := isKnownMethod(m)
		for _, p := range a.meths {
			if string(m) == string(p.text) || !known && !p.known && a.fold && equalFold(m, p.text) {
				return true
			}
		}
		return false
	}
	return false
}

// header returns the named header; Host is asked of r.Host, which also
// covers an absolute-form request's authority.
func (a *acl) header(r Request) ([]byte, bool) {
	if string(a.name) == string(hostHeader) {
		h := r.Host()
		return h, len(h) > 0
	}
	return r.Header(a.name)
}

// nextValue splits the first comma-separated value off v, as HAProxy's
// hdr() does: commas inside double quotes do not split, blanks around a
// value are dropped. more reports whether a comma followed.
func nextValue(v []byte) (one, rest []byte, more bool) {
	quoted := false
	i := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ',':
			if !quoted {
				return trimBlanks(v[:i]), v[i+1:], true
			}
		}
	}
	if i > len(v) {
		i = len(v)
	}
	return trimBlanks(v[:i]), nil, false
}

func trimBlanks(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func countValues(v []byte) int {
	for n := 1; ; n++ {
		var more bool
		if _, v, more = nextValue(v); !more {
			return n
		}
	}
}

func (a *acl) matchInt(n int64) bool {
	for _, r := range a.ints {
		if r.lo <= n && n <= r.hi {
			return true
		}
	}
	return false
}

func (a *acl) matchString(v []byte) bool {
	switch a.method {
	case mFound:
		return true
	case mLen:
		return a.matchInt(int64(len(v)))
	case mReg:
		for _, p := range a.res {
			if p.match(v) {
				return true
			}
		}
		return false
	}
	for _, p := range a.strs {
		var ok bool
		switch a.method {
		case mStr:
			ok = len(v) == len(p) && (a.fold && equalFold(v, p) || string(v) == string(p))
		case mSub:
			ok = a.fold && containsFold(v, p) || !a.fold && bytes.Contains(v, p)
		case mBeg:
			ok = len(v) >= len(p) && a.same(v[:len(p)], p)
		case mEnd:
			ok = len(v) >= len(p) && a.same(v[len(v)-len(p):], p)
		case mDom:
			ok = a.matchWord(v, p, "/?.:")
		case mDir:
			ok = a.matchWord(v, p, "/?")
		}
		if ok {
			return true
		}
	}
	return false
}

func (a *acl) same(v, p []byte) bool {
	if a.fold {
		return equalFold(v, p)
	}
	return string(v) == string(p)
}

// matchWord is HAProxy's -m dom / -m dir: p occurs in v bounded on each
// side by a delimiter or an end of v.
func (a *acl) matchWord(v, p []byte, delims string) bool {
	n := len(p)
	if n == 0 {
		return false
	}
	for i := 0; i+n <= len(v); i++ {
		if (i == 0 || isDelim(v[i-1], delims)) && (i+n == len(v) || isDelim(v[i+n], delims)) && a.same(v[i:i+n], p) {
			return true
		}
	}
	return false
}

func isDelim(c byte, delims string) bool {
	for i := 0; i < len(delims); i++ {
		if delims[i] == c {
			return true
		}
	}
	return false
}

func isKnownMethod(m []byte) bool {
	for _, k := range knownMethods {
		if string(m) == k {
			return true
		}
	}
	return false
}
