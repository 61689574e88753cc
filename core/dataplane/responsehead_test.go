package dataplane

import "testing"

func TestEditHead(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\n" +
		"Date: Thu, 26 Nov 2026 09:00:00 GMT\r\n" +
		"Connection: keep-alive, X-Hop\r\n" +
		"X-Hop: 1\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"X-Folded: a\r\n" +
		" b\r\n" +
		"Content-Length: 2\r\n" +
		"Transfer-Encoding: chunked\r\n" +
		"\r\n"
	var d dropSet
	d.bits = seenConnection | seenKeepAlive
	d.tokens.collect([][]byte{[]byte("keep-alive, X-Hop")})
	d.contentLength = true
	got := string(editHead(nil, []byte(head), &d, []byte("Set-Cookie: a=b\r\n")))
	want := "HTTP/1.1 200 OK\r\n" +
		"Date: Thu, 26 Nov 2026 09:00:00 GMT\r\n" +
		"X-Folded: a\r\n" +
		" b\r\n" +
		"Transfer-Encoding: chunked\r\n" +
		"Set-Cookie: a=b\r\n" +
		"\r\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}

	// A dropped header takes its continuation lines with it; LF line ends
	// are kept as they came.
	head = "HTTP/1.1 204 No Content\nUpgrade: h2c\n\tmore\nX-A: 1\n\n"
	d = dropSet{bits: seenUpgrade}
	got = string(editHead(nil, []byte(head), &d, nil))
	if want = "HTTP/1.1 204 No Content\nX-A: 1\n\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
