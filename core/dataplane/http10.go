package dataplane

import (
	"bufio"
	"net"

	"github.com/valyala/fasthttp"
)

// HTTP/1.0 has no chunked encoding, yet fasthttp writes every streamed
// response of unknown length chunked, whoever asked. So a response of
// unknown length to an HTTP/1.0 client is written here instead: the head
// without Transfer-Encoding, then the body as it comes, ended by closing
// the connection (RFC 9112 6.3, item 8).

// needsCloseDelimited reports whether the response to ctx's request must
// be written by writeCloseDelimited.
func needsCloseDelimited(ctx *fasthttp.RequestCtx) bool {
	return !ctx.Request.Header.IsHTTP11() && ctx.Response.IsBodyStream() &&
		ctx.Response.Header.ContentLength() < 0 && !ctx.Request.Header.IsHead()
}

// writeCloseDelimited takes the connection from fasthttp once the handler
// returns and writes the response on it.
func writeCloseDelimited(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetContentLength(-2) // neither length nor chunks
	ctx.Response.Header.Del(fasthttp.HeaderTransferEncoding)
	ctx.Response.Header.SetConnectionClose()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		w := bufio.NewWriterSize(c, 32<<10)
		// fasthttp closes c when this returns; the body stream hands its
		// endpoint connection back (or closes it) when closed.
		defer ctx.Response.CloseBodyStream()
		if err := ctx.Response.Header.Write(w); err != nil {
			return
		}
		if _, err := w.ReadFrom(ctx.Response.BodyStream()); err != nil {
			return
		}
		w.Flush()
	})
}
