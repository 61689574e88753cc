package condition

import "net/netip"

// Request is what a compiled condition reads from a request. The data plane
// implements it over its own request type so that evaluation copies nothing:
// every method returns a view into the request's buffers that is valid only
// for the duration of the call to Matcher.Match.
type Request interface {
	// Host is the Host header (or the :authority), port included if present.
	Host() []byte
	// Header returns the first value of the named header, which must be
	// matched case-insensitively. The matcher always passes the name in
	// canonical form ("X-Canary-Group": each dash-separated word
	// capitalised), so an implementation whose headers are stored that way
	// (fasthttp, net/http) can look it up without folding case. ok is false
	// when the header is absent.
	Header(name []byte) (value []byte, ok bool)
	// Cookie returns the value of the named cookie (exact, case-sensitive
	// name). ok is false when the cookie is absent.
	Cookie(name []byte) (value []byte, ok bool)
	// Path is the request path without the query string, as sent.
	Path() []byte
	// Method is the request method, upper case as sent.
	Method() []byte
	// Query returns the first value of the named query argument.
	Query(name []byte) (value []byte, ok bool)
	// Source is the client's address (the TCP peer).
	Source() netip.Addr
}
