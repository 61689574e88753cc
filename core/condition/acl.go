package condition

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// acl is one HAProxy ACL, "fetch [flags] [operator] [patterns...]": a sample
// fetched from the request, a match method and patterns of which any one
// may match. It is what Vamp generated for each of its operands and what
// its "< ... >" form (and text its parser could not read) passed through.
type acl struct {
	text   string // the ACL as written, for String
	fetch  fetchKind
	name   []byte // header (canonical form), cookie or query argument name
	method matchKind
	fold   bool       // -i: patterns compare ignoring ASCII case
	strs   [][]byte   // str, sub, beg, end, dom, dir patterns (lower case when fold)
	res    []*pattern // reg patterns
	ints   []intRange // int and len patterns
	pfxs   []netip.Prefix
	meths  []methodPattern
}

type fetchKind uint8

const (
	fetchHdr      fetchKind = iota // hdr(name): each comma-separated value
	fetchFhdr                      // fhdr(name): the whole header value
	fetchHdrCnt                    // hdr_cnt(name): number of values
	fetchPath                      // path
	fetchURLParam                  // url_param(name), urlp(name)
	fetchCook                      // cook(name)
	fetchCookCnt                   // cook_cnt(name)
	fetchSrc                       // src
	fetchMethod                    // method
)

type matchKind uint8

const (
	mStr matchKind = iota
	mSub
	mBeg
	mEnd
	mReg
	mDom
	mDir
	mLen
	mFound
	mInt
	mIP
	mMeth
)

var matchNames = map[string]matchKind{
	"str": mStr, "sub": mSub, "beg": mBeg, "end": mEnd, "reg": mReg,
	"dom": mDom, "dir": mDir, "len": mLen, "found": mFound, "int": mInt, "ip": mIP,
}

// fetchSpec is a fetch keyword: what it reads and its default match.
type fetchSpec struct {
	fetch  fetchKind
	method matchKind
}

// fetches are the HAProxy ACL keywords supported; req.X is the sample
// fetch form HAProxy also accepts (Vamp generated req.hdr, req.fhdr,
// req.cook, req.hdr_cnt and req.cook_cnt).
var fetches = func() map[string]fetchSpec {
	m := map[string]fetchSpec{
		"req.fhdr": {fetchFhdr, mStr}, // HAProxy has no "fhdr" ACL keyword
		"hdr_cnt":  {fetchHdrCnt, mInt}, "req.hdr_cnt": {fetchHdrCnt, mInt},
		"cook_cnt": {fetchCookCnt, mInt}, "req.cook_cnt": {fetchCookCnt, mInt},
		"src": {fetchSrc, mIP}, "method": {fetchMethod, mMeth},
		"req.hdr": {fetchHdr, mStr}, "req.cook": {fetchCook, mStr},
	}
	derived := map[string]matchKind{"": mStr, "_beg": mBeg, "_end": mEnd, "_sub": mSub,
		"_reg": mReg, "_dom": mDom, "_dir": mDir, "_len": mLen}
	for suffix, method := range derived {
		m["hdr"+suffix] = fetchSpec{fetchHdr, method}
		m["path"+suffix] = fetchSpec{fetchPath, method}
		m["cook"+suffix] = fetchSpec{fetchCook, method}
		m["urlp"+suffix] = fetchSpec{fetchURLParam, method}
	}
	m["url_param"] = fetchSpec{fetchURLParam, mStr}
	return m
}()

const supportedFetches = "hdr, hdr_beg, hdr_end, hdr_sub, hdr_reg, hdr_dom, hdr_dir, hdr_len, hdr_cnt, req.fhdr, " +
	"path, path_beg, path_end, path_sub, path_reg, path_dom, path_dir, path_len, url_param, urlp (and its _beg.._len forms), " +
	"cook, cook_beg, cook_end, cook_sub, cook_reg, cook_dom, cook_dir, cook_len, cook_cnt, src, method"

// intRange is an integer pattern: lo <= n <= hi.
type intRange struct{ lo, hi int64 }

// methodPattern is a "method" pattern. HAProxy compares the methods it
// knows by identity (so "get" never matches GET, even with -i) and other
// methods as strings, honouring -i.
type methodPattern struct {
	text  []byte
	known bool
}

var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE"}

// aclError is the error for an ACL that is not supported or not valid;
// the parser wraps it into a *SyntaxError.
type aclError struct{ msg string }

func (e *aclError) Error() string { return e.msg }

func aclErrorf(format string, args ...any) error { return &aclError{fmt.Sprintf(format, args...)} }

// parseACL compiles the words of one ACL definition.
func parseACL(words []string) (*acl, error) {
	if len(words) == 0 {
		return nil, aclErrorf("empty HAProxy ACL: expected a fetch such as hdr(host) or path_beg")
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = quoteWord(w)
	}
	a := &acl{text: strings.Join(quoted, " ")}
	kw, args, err := splitFetch(words[0])
	if err != nil {
		return nil, err
	}
	spec, ok := fetches[strings.ToLower(kw)]
	if !ok {
		return nil, aclErrorf("unsupported HAProxy fetch %q: supported are %s", kw, supportedFetches)
	}
	a.fetch, a.method = spec.fetch, spec.method
	switch a.fetch {
	case fetchHdr, fetchFhdr, fetchHdrCnt, fetchCook, fetchCookCnt, fetchURLParam:
		if len(args) != 1 || args[0] == "" {
			return nil, aclErrorf("HAProxy fetch %s needs exactly one argument, the name (occurrence and delimiter arguments are not supported), got %q", kw, words[0])
		}
		a.name = []byte(args[0])
		if a.fetch == fetchHdr || a.fetch == fetchFhdr || a.fetch == fetchHdrCnt {
			a.name = canonicalHeader(a.name)
		}
	default:
		if args != nil {
			return nil, aclErrorf("HAProxy fetch %s takes no argument, got %q", kw, words[0])
		}
	}
	rest := words[1:]
	// Flags come first; -- ends them.
flags:
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") && len(rest[0]) > 1 {
		switch rest[0] {
		case "-i":
			a.fold = true
		case "-m":
			if len(rest) < 2 {
				return nil, aclErrorf("HAProxy flag -m needs a match method")
			}
			m, ok := matchNames[rest[1]]
			if !ok || !methodFits(a.fetch, m) {
				return nil, aclErrorf("unsupported HAProxy match method \"-m %s\" for %s: supported are %s", rest[1], kw, methodsFor(a.fetch))
			}
			a.method = m
			rest = rest[1:]
		case "--":
			rest = rest[1:]
			break flags
		default:
			if a.method == mInt || a.method == mLen {
				if _, err := strconv.ParseInt(rest[0], 10, 64); err == nil {
					break flags // a negative number
				}
			}
			return nil, aclErrorf("unsupported HAProxy flag %q: supported are -i, -m and --", rest[0])
		}
		rest = rest[1:]
	}
	return a, a.patterns(kw, rest)
}

// splitFetch splits "hdr(host)" into "hdr" and ["host"]; a converter
// ("hdr(host),lower") is refused by name.
func splitFetch(w string) (kw string, args []string, err error) {
	i := strings.IndexByte(w, '(')
	if i < 0 {
		if j := strings.IndexByte(w, ','); j >= 0 {
			return "", nil, aclErrorf("HAProxy converters are not supported: %q in %q", w[j+1:], w)
		}
		return w, nil, nil
	}
	j := strings.IndexByte(w[i:], ')')
	if j < 0 {
		return "", nil, aclErrorf("HAProxy fetch %q: missing ')'", w)
	}
	j += i
	if j+1 < len(w) {
		tail := w[j+1:]
		if tail[0] == ',' {
			return "", nil, aclErrorf("HAProxy converters are not supported: %q in %q", tail[1:], w)
		}
		return "", nil, aclErrorf("HAProxy fetch %q: unexpected %q after ')'", w, tail)
	}
	return w[:i], strings.Split(w[i+1:j], ","), nil
}

func methodFits(f fetchKind, m matchKind) bool {
	switch f {
	case fetchHdrCnt, fetchCookCnt:
		return m == mInt || m == mFound
	case fetchSrc:
		return m == mIP || m == mFound
	case fetchMethod:
		return m == mFound
	}
	return m <= mFound // a string fetch
}

func methodsFor(f fetchKind) string {
	switch f {
	case fetchHdrCnt, fetchCookCnt:
		return "int, found"
	case fetchSrc:
		return "ip, found"
	case fetchMethod:
		return "found"
	}
	return "str, sub, beg, end, reg, dom, dir, len, found"
}

// patterns compiles the pattern words for a's match method.
func (a *acl) patterns(kw string, words []string) error {
	switch a.method {
	case mFound:
		if len(words) > 0 {
			return aclErrorf("HAProxy ACL %q: -m found takes no pattern, got %q", a.text, words[0])
		}
	case mInt, mLen:
		return a.intPatterns(words)
	case mIP:
		for _, w := range words {
			p, ok := parsePrefix(w)
			if !ok {
				return aclErrorf("HAProxy ACL %q: %q is not an IP address or CIDR prefix", a.text, w)
			}
			a.pfxs = append(a.pfxs, p)
		}
	case mMeth:
		for _, w := range words {
			a.meths = append(a.meths, methodPattern{text: []byte(w), known: isKnownMethod([]byte(w))})
		}
	case mReg:
		for _, w := range words {
			expr := w
			if a.fold {
				expr = "(?i)" + w
			}
			p, err := compilePattern(expr)
			if err != nil {
				return aclErrorf("HAProxy ACL %q: invalid regular expression %q: %v", a.text, w, err)
			}
			a.res = append(a.res, p)
		}
	default:
		for _, w := range words {
			if a.method == mDom || a.method == mDir {
				w = strings.Trim(w, wordDelims(a.method))
			}
			if a.fold {
				w = strings.Map(asciiLower, w)
			}
			a.strs = append(a.strs, []byte(w))
		}
	}
	return nil
}

// intPatterns reads "[eq|ge|gt|le|lt] n ..." or ranges "lo:hi", ":hi", "lo:".
// An operator applies to the values after it.
func (a *acl) intPatterns(words []string) error {
	op := "eq"
	for _, w := range words {
		switch w {
		case "eq", "ge", "gt", "le", "lt":
			op = w
			continue
		}
		if lo, hi, ok := strings.Cut(w, ":"); ok {
			r := intRange{lo: minInt, hi: maxInt}
			var err1, err2 error
			if lo != "" {
				r.lo, err1 = strconv.ParseInt(lo, 10, 64)
			}
			if hi != "" {
				r.hi, err2 = strconv.ParseInt(hi, 10, 64)
			}
			if err1 != nil || err2 != nil {
				return aclErrorf("HAProxy ACL %q: %q is not an integer range", a.text, w)
			}
			a.ints = append(a.ints, r)
			continue
		}
		n, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			return aclErrorf("HAProxy ACL %q: %q is not an integer", a.text, w)
		}
		r := map[string]intRange{"eq": {n, n}, "ge": {n, maxInt}, "gt": {n + 1, maxInt},
			"le": {minInt, n}, "lt": {minInt, n - 1}}[op]
		a.ints = append(a.ints, r)
	}
	return nil
}

const (
	minInt = -1 << 63
	maxInt = 1<<63 - 1
)

func wordDelims(m matchKind) string {
	if m == mDom {
		return "/?.:"
	}
	return "/?"
}

// isACLError reports whether err came from the ACL compiler.
func isACLError(err error) bool {
	var e *aclError
	return errors.As(err, &e)
}

// quoteWord writes w so that haproxyWords reads it back as one word.
func quoteWord(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n\r\f\v#\\'\"") {
		return w
	}
	if !strings.Contains(w, "'") {
		return "'" + w + "'"
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
}
