package dataplane

import (
	"strings"
	"testing"
)

func TestBodyEndChunked(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		n          int // bytes of the body; -1: malformed
		done       bool
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\nNEXT", 15, true},
		{"two chunks, hex", "A\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n", 28, true},
		{"extension", "5;name=v\r\nhello\r\n0\r\n\r\n", 22, true},
		{"trailer", "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\nNEXT", 25, true},
		{"upper-case hex", "F\r\n0123456789abcde\r\n0\r\n\r\n", 25, true},
		{"cut in data", "5\r\nhel", 6, false},
		{"cut before the end", "5\r\nhello\r\n0\r\n", 13, false},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", -1, false},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", -1, false},
		{"no digits", "\r\nhello\r\n", -1, false},
		{"not hex", "5g\r\nhello\r\n", -1, false},
		{"data longer than its size", "3\r\nhello\r\n", -1, false},
		{"size overflow", "1000000000000000\r\n", -1, false},
		{"negative", "-5\r\n", -1, false},
		{"blanks before an extension", "5 ; a = b\t;c\r\nhello\r\n0\r\n\r\n", 26, true},
		{"quoted extension value", "5;a=\"x \\\" y\"\r\nhello\r\n0\r\n\r\n", 26, true},
		{"extension without a value", "5;flag\r\nhello\r\n0;last\r\n\r\n", 25, true},
		{"junk after the size", "5 junk\r\nhello\r\n0\r\n\r\n", -1, false},
		{"blank after the size", "5 \r\nhello\r\n0\r\n\r\n", 16, true},
		{"extension without a name", "5;=v\r\nhello\r\n", -1, false},
		{"empty extension value", "5;a=\r\nhello\r\n", -1, false},
		{"unterminated quote", "5;a=\"x\r\nhello\r\n", -1, false},
		{"control byte in a quote", "5;a=\"\x01\"\r\nhello\r\n", -1, false},
		{"two values", "5;a=b c\r\nhello\r\n", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The same result whether the bytes come at once or one by one.
			for _, step := range []int{len(tc.body), 1, 3} {
				f := bodyEnd{kind: frameChunked}
				total, done := 0, false
				var err error
				for b := []byte(tc.body); len(b) > 0 && !done && err == nil; {
					k := min(step, len(b))
					var n int
					n, done, err = f.feed(b[:k])
					total += n
					b = b[n:]
					if !done && err == nil && n < k {
						t.Fatalf("step %d: fed %d bytes, took %d without ending", step, k, n)
					}
				}
				if tc.n < 0 {
					if err == nil {
						t.Fatalf("step %d: accepted, want errBadChunk", step)
					}
					continue
				}
				if err != nil || total != tc.n || done != tc.done {
					t.Fatalf("step %d: took %d, done %v, err %v; want %d, %v", step, total, done, err, tc.n, tc.done)
				}
			}
		})
	}
}

func TestBodyEndLengthAndClose(t *testing.T) {
	f := bodyEnd{kind: frameLength, remain: 10}
	if n, done, _ := f.feed([]byte("0123")); n != 4 || done {
		t.Fatalf("first part: %d, %v", n, done)
	}
	if n, done, _ := f.feed([]byte("456789NEXT")); n != 6 || !done {
		t.Fatalf("rest: %d, %v; want 6, true", n, done)
	}
	c := bodyEnd{kind: frameClose}
	if n, done, _ := c.feed([]byte(strings.Repeat("x", 100))); n != 100 || done {
		t.Fatalf("close-delimited: %d, %v", n, done)
	}
	z := bodyEnd{kind: frameNone}
	if n, done, _ := z.feed([]byte("HTTP/1.1")); n != 0 || !done {
		t.Fatalf("no body: %d, %v", n, done)
	}
}
