package dataplane

import "bytes"

// The event-loop path forwards an endpoint's response head as it came
// (fasthttp has parsed and checked it), editing lines only when it must:
// fasthttp's own serialiser would replace the endpoint's Date with its
// clock and reorder headers.

// hopByHop are the bits of the standard hop-by-hop headers of a response.
const hopByHop = seenConnection | seenKeepAlive | seenProxyConnection | seenTE | seenTrailer | seenUpgrade

// dropSet names the header lines a forwarded response loses.
type dropSet struct {
	bits          seen             // standard hop-by-hop headers present
	tokens        connectionTokens // names the Connection headers list
	contentLength bool             // a chunked response's Content-Length (RFC 9112 6.3)
}

func (d *dropSet) drops(name []byte) bool {
	if b := headerBit(name); b&hopByHop != 0 {
		return d.bits&b != 0
	}
	if d.contentLength && equalFold(name, "content-length") {
		return true
	}
	for i := range d.tokens.n {
		if bytes.EqualFold(name, d.tokens.names[i][:d.tokens.lens[i]]) {
			return true
		}
	}
	return false
}

// editHead appends head to dst without the header lines d drops, with
// extra (complete header lines) before the empty line that ends it. head
// is a whole parsed head: a start line, header lines, an empty line; a
// line starting with a space or tab continues the one before (obs-fold)
// and shares its fate.
func editHead(dst, head []byte, d *dropSet, extra []byte) []byte {
	first := true
	keep := true
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			i = len(head) - 1
		}
		line := head[:i+1]
		head = head[i+1:]
		content := bytes.TrimRight(line, "\r\n")
		switch {
		case first:
			first = false
			dst = append(dst, line...)
		case len(content) == 0: // the end of the head
			dst = append(dst, extra...)
			return append(dst, line...)
		case content[0] == ' ' || content[0] == '\t':
			if keep {
				dst = append(dst, line...)
			}
		default:
			name := content
			if j := bytes.IndexByte(content, ':'); j >= 0 {
				name = content[:j]
			}
			keep = !d.drops(name)
			if keep {
				dst = append(dst, line...)
			}
		}
	}
	return append(dst, extra...)
}
