package dataplane

import (
	"io"
	"sync"
)

// How much of a streamed request body is moved to the endpoint per read of
// the client's connection. fasthttp's own copy of a body stream goes
// through its 4 KiB buffers: a read and one to two writes for every 4 KiB.
// Through these, whatever one read gets is written on at once, with one
// write. A body of known length is read 256 KiB at a time: 4 reads and 4
// writes per MiB, where 64 KiB took 16 and ran below HAProxy's rate on an
// idle machine (docs/performance-analysis.md, "Uploads"). A chunked body
// comes through fasthttp's chunk parser, which reads through the server's
// 16 KiB buffer whatever we ask; bigger reads there only made bigger
// chunks to copy (0.83x HAProxy with 256 KiB, 1.00x with 64 KiB): see
// chunkWriteBuffer.
const (
	lengthBufferSize = 256 << 10
	chunkBufferSize  = 64 << 10
)

var (
	lengthBuffers = sync.Pool{New: func() any { b := make([]byte, lengthBufferSize); return &b }}
	chunkBuffers  = sync.Pool{New: func() any { b := make([]byte, chunkBufferSize); return &b }}
)

// SupportsBodyWriteTo lets fasthttp copy the body with WriteTo: it reads
// with Read, so it has Read's effects (the client's error is kept).
func (b *clientBody) SupportsBodyWriteTo() bool { return true }

// WriteTo writes what each read of the client's body gets to w as it
// comes, through a pooled buffer: as much as the client's connection has,
// up to the buffer's size, per write. Nothing waits for more to arrive.
func (b *clientBody) WriteTo(w io.Writer) (int64, error) {
	pool := &lengthBuffers
	if b.chunked {
		pool = &chunkBuffers
	}
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	buf := *bp
	var n int64
	for {
		nr, rerr := b.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if nw != nr {
				return n, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
