package dataplane

import "errors"

// Where a response body ends, for the event-loop path that forwards the
// endpoint's bytes as they come: a length, a chunked body (whose end only
// the chunk sizes tell), the end of the connection, or no body at all.
// Only framing is read here; the bytes are passed on unchanged. Heads are
// parsed by fasthttp.

type framing uint8

const (
	frameNone    framing = iota // HEAD, 1xx, 204, 304
	frameLength                 // Content-Length
	frameChunked                // Transfer-Encoding: chunked
	frameClose                  // until the endpoint closes the connection
)

var errBadChunk = errors.New("malformed chunked body")

// maxChunkLine bounds a chunk-size line (with extensions) and a trailer.
const maxChunkLine = 16 << 10

// bodyEnd follows a response body through the bytes that carry it.
type bodyEnd struct {
	kind   framing
	remain int64 // frameLength: bytes left; frameChunked: data bytes left in the chunk
	st     chunkState
	size   int64
	digits int
	line   int
}

type chunkState uint8

const (
	csSize          chunkState = iota // hex digits of a chunk size
	csExt                             // blanks after the size, before ";" or CR
	csExtName                         // after ";": blanks, then an extension's name
	csExtAfterName                    // after a name: blanks, "=", ";" or CR
	csExtValue                        // after "=": blanks, then a token or a quoted string
	csExtToken                        // inside a token value
	csExtQuoted                       // inside a quoted value
	csExtEscape                       // after a backslash in a quoted value
	csExtAfterValue                   // after a value: blanks, ";" or CR
	csSizeLF                          // LF after the size line
	csData                            // chunk data
	csDataCR                          // CR after the data
	csDataLF                          // LF after the data
	csTrailer                         // start of a trailer line, or the final CRLF
	csTrailerLine                     // inside a trailer line
	csTrailerLF                       // LF of a trailer line
	csEndLF                           // LF of the final CRLF
	csDone
)

// feed reports how many bytes of b belong to the body, and whether the
// body ended there. Bytes after the end belong to the next message.
func (f *bodyEnd) feed(b []byte) (n int, done bool, err error) {
	switch f.kind {
	case frameNone:
		return 0, true, nil
	case frameClose:
		return len(b), false, nil
	case frameLength:
		n = len(b)
		if int64(n) >= f.remain {
			n = int(f.remain)
		}
		f.remain -= int64(n)
		return n, f.remain == 0, nil
	}
	for n < len(b) {
		if f.st == csData {
			k := len(b) - n
			if int64(k) > f.remain {
				k = int(f.remain)
			}
			n += k
			f.remain -= int64(k)
			if f.remain == 0 {
				f.st = csDataCR
			}
			continue
		}
		c := b[n]
		n++
		if err := f.step(c); err != nil {
			return n, false, err
		}
		if f.st == csDone {
			return n, true, nil
		}
	}
	return n, false, nil
}

// step moves the chunk parser over one byte outside chunk data. Line ends
// must be CRLF (RFC 9112 7.1): a lenient reading here and a strict one in
// the client would frame the stream differently.
func (f *bodyEnd) step(c byte) error {
	switch f.st {
	case csSize:
		if v, ok := hexVal(c); ok {
			if f.digits == 15 {
				return errBadChunk // would overflow
			}
			f.size = f.size<<4 | int64(v)
			f.digits++
			return nil
		}
		if f.digits == 0 {
			return errBadChunk
		}
		f.line = 0
		f.st = csExt
		return f.step(c)
	case csExt, csExtName, csExtAfterName, csExtValue, csExtToken, csExtQuoted, csExtEscape, csExtAfterValue:
		if f.line++; f.line > maxChunkLine {
			return errBadChunk
		}
		return f.extByte(c)
	case csSizeLF:
		if c != '\n' {
			return errBadChunk
		}
		if f.size == 0 {
			f.st, f.line = csTrailer, 0
		} else {
			f.st, f.remain = csData, f.size
		}
	case csDataCR:
		if c != '\r' {
			return errBadChunk
		}
		f.st = csDataLF
	case csDataLF:
		if c != '\n' {
			return errBadChunk
		}
		f.st, f.size, f.digits = csSize, 0, 0
	case csTrailer:
		if c == '\r' {
			f.st = csEndLF
			return nil
		}
		f.st = csTrailerLine
		return f.step(c)
	case csTrailerLine:
		return f.lineByte(c, csTrailerLF)
	case csTrailerLF:
		if c != '\n' {
			return errBadChunk
		}
		f.st = csTrailer
	case csEndLF:
		if c != '\n' {
			return errBadChunk
		}
		f.st = csDone
	}
	return nil
}

// extByte takes a byte of a chunk-size line's extensions, which must be
// what RFC 9112 7.1.1 allows: *( BWS ";" BWS name [ BWS "=" BWS value ] ),
// a name a token, a value a token or a quoted string. "5 junk" is not a
// size, and a client that reads it otherwise would frame the body
// differently.
func (f *bodyEnd) extByte(c byte) error {
	blank := c == ' ' || c == '\t'
	switch f.st {
	case csExt, csExtAfterName, csExtAfterValue:
		switch {
		case blank:
		case c == ';':
			f.st, f.digits = csExtName, 0
		case c == '\r':
			f.st = csSizeLF
		case c == '=' && f.st == csExtAfterName:
			f.st = csExtValue
		default:
			return errBadChunk
		}
	case csExtName: // f.digits counts the name's bytes
		switch {
		case tokenChar[c]:
			f.digits++
		case blank && f.digits == 0:
		case f.digits > 0:
			f.st = csExtAfterName
			return f.extByte(c)
		default:
			return errBadChunk
		}
	case csExtValue:
		switch {
		case blank:
		case c == '"':
			f.st = csExtQuoted
		case tokenChar[c]:
			f.st = csExtToken
		default:
			return errBadChunk
		}
	case csExtToken:
		if !tokenChar[c] {
			f.st = csExtAfterValue
			return f.extByte(c)
		}
	case csExtQuoted:
		switch {
		case c == '"':
			f.st = csExtAfterValue
		case c == '\\':
			f.st = csExtEscape
		case c == '\t' || c >= 0x20 && c != 0x7f:
		default:
			return errBadChunk
		}
	case csExtEscape:
		if c != '\t' && (c < 0x20 || c == 0x7f) {
			return errBadChunk
		}
		f.st = csExtQuoted
	}
	return nil
}

// lineByte takes a byte of a trailer line: CR moves to
// cr (its LF), a bare LF or a line over maxChunkLine is an error.
func (f *bodyEnd) lineByte(c byte, cr chunkState) error {
	if f.line++; f.line > maxChunkLine {
		return errBadChunk
	}
	if c == '\r' {
		f.st = cr
	} else if c == '\n' {
		return errBadChunk
	}
	return nil
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
