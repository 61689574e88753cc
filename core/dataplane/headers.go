package dataplane

import (
	"github.com/valyala/fasthttp"
)

// Header rewriting between client and endpoint: hop-by-hop headers go
// (RFC 9110 7.6.1), X-Forwarded-* come, names that are not tokens are
// refused. It all works in place on fasthttp's headers, without allocating.

var (
	headerXFF          = []byte("X-Forwarded-For")
	headerXFProto      = []byte("X-Forwarded-Proto")
	headerXFHost       = []byte("X-Forwarded-Host")
	headerCacheControl = []byte("Cache-Control")
	headerConnection   = []byte("Connection")
	headerUpgrade      = []byte("Upgrade")
	valueHTTP          = []byte("http")
	valuePrivate       = []byte("private")
	valueUpgrade       = []byte("Upgrade")
	hopByHop           = []string{"Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"}
)

// connectionTokens collects the header names that the Connection headers
// (all of them) declare hop-by-hop, except the ones that frame or route
// the message: deleting Content-Length because a client listed it would
// let its body run into the next request.
type connectionTokens struct {
	names [8][40]byte
	lens  [8]int
	n     int
}

func (c *connectionTokens) collect(values [][]byte) {
	for _, v := range values {
		for len(v) > 0 && c.n < len(c.names) {
			i := 0
			for i < len(v) && v[i] != ',' {
				i++
			}
			tok := trimSpace(v[:i])
			if len(tok) > 0 && len(tok) <= len(c.names[0]) && !protectedToken(tok) {
				c.lens[c.n] = copy(c.names[c.n][:], tok)
				c.n++
			}
			if i == len(v) {
				break
			}
			v = v[i+1:]
		}
	}
}

func protectedToken(tok []byte) bool {
	for _, s := range []string{"keep-alive", "close", "upgrade", "content-length", "transfer-encoding", "host", "connection"} {
		if equalFold(tok, s) {
			return true
		}
	}
	return false
}

// cleanRequest removes hop-by-hop headers from a request about to be
// forwarded. An upgrade keeps its Upgrade header and "Connection: Upgrade".
func cleanRequest(hdr *fasthttp.RequestHeader, upgrade bool) {
	var tokens connectionTokens
	tokens.collect(hdr.PeekAll("Connection"))
	for i := range tokens.n {
		hdr.DelBytes(tokens.names[i][:tokens.lens[i]])
	}
	var up [64]byte
	upLen := 0
	if upgrade {
		upLen = copy(up[:], hdr.PeekBytes(headerUpgrade))
	}
	hdr.ResetConnectionClose()
	hdr.Del("Connection")
	for _, k := range hopByHop {
		hdr.Del(k)
	}
	if upgrade {
		hdr.SetCanonical(headerUpgrade, up[:upLen])
		hdr.SetCanonical(headerConnection, valueUpgrade)
	}
}

// cleanResponse removes hop-by-hop headers from an endpoint's response.
func cleanResponse(hdr *fasthttp.ResponseHeader) {
	var tokens connectionTokens
	tokens.collect(hdr.PeekAll("Connection"))
	for i := range tokens.n {
		hdr.DelBytes(tokens.names[i][:tokens.lens[i]])
	}
	hdr.ResetConnectionClose()
	hdr.Del("Connection")
	for _, k := range hopByHop {
		hdr.Del(k)
	}
}

// addForwarded appends the client to X-Forwarded-For (joining every such
// header the client sent, so the last entry is always ours) and sets
// X-Forwarded-Proto and X-Forwarded-Host from this hop.
func addForwarded(ctx *fasthttp.RequestCtx) {
	hdr := &ctx.Request.Header
	var buf [256]byte
	v := buf[:0]
	prior := hdr.PeekAll("X-Forwarded-For")
	n := len(prior)
	for _, p := range prior {
		if p = trimSpace(p); len(p) > 0 {
			v = append(v, p...)
			v = append(v, ", "...)
		}
	}
	if n > 1 {
		hdr.Del("X-Forwarded-For")
	}
	v = (*request)(ctx).Source().AppendTo(v)
	hdr.SetCanonical(headerXFF, v)
	hdr.SetCanonical(headerXFProto, valueHTTP)
	if host := hdr.Host(); len(host) > 0 {
		hdr.SetCanonical(headerXFHost, host)
	} else {
		hdr.Del("X-Forwarded-Host")
	}
}

// validHeaderNames reports whether every header name is an RFC 9110 token.
// fasthttp accepts names such as "Foo Bar"; endpoints and other proxies may
// read them differently, which is how requests get smuggled.
func validHeaderNames(hdr *fasthttp.RequestHeader) bool {
	for k := range hdr.All() {
		if len(k) == 0 {
			return false
		}
		for _, c := range k {
			if !tokenChar[c] {
				return false
			}
		}
	}
	return true
}

var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
