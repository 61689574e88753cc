package dataplane

import (
	"net/netip"

	"github.com/valyala/fasthttp"

	"github.com/turnout/turnout/core/condition"
)

// request lets the condition matchers read a fasthttp request in place.
// It is the RequestCtx itself under another method set, so converting
// costs nothing and nothing is copied.
type request fasthttp.RequestCtx

var _ condition.Request = (*request)(nil)

func (r *request) ctx() *fasthttp.RequestCtx { return (*fasthttp.RequestCtx)(r) }

func (r *request) Host() []byte { return r.ctx().Request.Header.Host() }

// Header looks the name up as given: the matcher passes canonical names,
// which is how fasthttp stores headers, so no copy or case folding is needed.
func (r *request) Header(name []byte) ([]byte, bool) {
	v := r.ctx().Request.Header.PeekCanonical(name)
	return v, v != nil
}

func (r *request) Cookie(name []byte) ([]byte, bool) {
	return peekCookie(&r.ctx().Request.Header, name)
}

func (r *request) Path() []byte { return r.ctx().Path() }

func (r *request) Method() []byte { return r.ctx().Method() }

func (r *request) Query(name []byte) ([]byte, bool) {
	args := r.ctx().QueryArgs()
	v := args.PeekBytes(name)
	if v == nil && !args.HasBytes(name) {
		return nil, false
	}
	return v, true
}

func (r *request) Source() netip.Addr {
	a, _ := netip.AddrFromSlice(r.ctx().RemoteIP())
	return a.Unmap()
}
