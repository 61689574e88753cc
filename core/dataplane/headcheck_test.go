package dataplane

import "testing"

// TestHeadCheck: the same verdict whatever way a head is split.
func TestHeadCheck(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		want       error
		done       bool
	}{
		{"plain", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", nil, true},
		{"unfinished", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", nil, false},
		{"bare LF head", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", errBareLF, false},
		{"one bare LF", "HTTP/1.1 200 OK\r\nA: 1\nB: 2\r\n\r\n", errBareLF, false},
		{"bare LF ends the head", "HTTP/1.1 200 OK\r\nA: 1\r\n\n", errBareLF, false},
		{"folded with a space", "HTTP/1.1 200 OK\r\nA: 1\r\n 2\r\n\r\n", errFolded, false},
		{"folded with a tab", "HTTP/1.1 200 OK\r\nA: 1\r\n\t2\r\n\r\n", errFolded, false},
		{"blanks inside a value", "HTTP/1.1 200 OK\r\nA: 1  2\r\n\r\n", nil, true},
		{"body after the head is not read", "HTTP/1.1 200 OK\r\n\r\nx\n y\n", nil, true},
	} {
		for _, step := range []int{len(tc.head), 1, 2, 5} {
			var h headCheck
			var err error
			for b := []byte(tc.head); len(b) > 0 && err == nil && !h.done; {
				k := min(step, len(b))
				err = h.scan(b[:k])
				b = b[k:]
			}
			if err != tc.want || h.done != tc.done {
				t.Errorf("%s, %d bytes at a time: err %v, done %v; want %v, %v", tc.name, step, err, h.done, tc.want, tc.done)
			}
		}
	}
}

// BenchmarkHeadCheck is the check's cost on a common response head: the
// event loops pay it once per response.
func BenchmarkHeadCheck(b *testing.B) {
	head := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 64\r\nX-Backend: b1\r\nDate: Mon, 07 Dec 2026 13:51:22 GMT\r\nCache-Control: no-cache\r\n\r\n0123456789")
	b.ReportAllocs()
	for b.Loop() {
		var h headCheck
		if h.scan(head) != nil || !h.done {
			b.Fatal("a good head refused")
		}
	}
}
