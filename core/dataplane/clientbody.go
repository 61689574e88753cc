package dataplane

import (
	"io"
	"sync"
)

// streamBufferSize is how much of a streamed request body is moved to the
// endpoint per read of the client's connection. fasthttp's own copy of a
// body stream goes through its 4 KiB buffers: a read and one to two writes
// for every 4 KiB. Through this, whatever one read gets is written on at
// once, with one write (a body of known length: see chunkWriteBuffer for
// chunked ones), so a big upload costs a read and a write per 64 KiB.
const streamBufferSize = 64 << 10

var streamBuffers = sync.Pool{New: func() any { b := make([]byte, streamBufferSize); return &b }}

// SupportsBodyWriteTo lets fasthttp copy the body with WriteTo: it reads
// with Read, so it has Read's effects (the client's error is kept).
func (b *clientBody) SupportsBodyWriteTo() bool { return true }

// WriteTo writes what each read of the client's body gets to w as it
// comes, through a pooled buffer: as much as the client's connection has,
// up to streamBufferSize, per write. Nothing waits for more to arrive.
func (b *clientBody) WriteTo(w io.Writer) (int64, error) {
	bp := streamBuffers.Get().(*[]byte)
	defer streamBuffers.Put(bp)
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
