package eventloop

import "sync"

// BufferSize is the size of a loop's read buffer, and of the pooled
// buffers that hold what a socket could not take yet: at most that much
// waits per direction, whatever the speed of either side.
const BufferSize = 32 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}

// GetBuffer takes a BufferSize buffer from the pool shared by the data
// plane's loops and copy loops; PutBuffer gives it back.
func GetBuffer() *[]byte { return buffers.Get().(*[]byte) }

// PutBuffer: see GetBuffer.
func PutBuffer(b *[]byte) { buffers.Put(b) }
