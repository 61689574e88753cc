// Command backend is the origin server of the benchmark harness (bench/run.sh,
// bench/reload.sh): a fixed-size body, the header "X-Backend: <name>" so that a
// client can tell which side of a split answered, and a request counter.
//
//	GET /__count   the number of requests served so far (this request is not counted)
//	POST /upload   reads and discards the request body (Content-Length or chunked)
//	               and answers 200 with its byte count, "X-Received: N" and "N\n";
//	               a body shorter than its Content-Length, or broken chunks, get a
//	               400 (bench/upload.sh). Not counted in /__count.
//	anything else  200, the body, counted
//
// Keep-alive is on (net/http's default). It is deliberately plain net/http, as
// in research/perf-anchors.md, so that its cost per request is the same for
// every contender.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19001", "listen address")
	name := flag.String("name", "b1", "value of the X-Backend header")
	size := flag.Int("size", 64, "response body size in bytes")
	flag.Parse()

	body := bytes.Repeat([]byte("x"), *size)
	if *size > 0 {
		body[*size-1] = '\n'
	}
	contentLength := strconv.Itoa(len(body))
	var served atomic.Int64

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" && r.Method == http.MethodPost {
			upload(w, r, *name)
			return
		}
		if r.URL.Path == "/__count" {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strconv.FormatInt(served.Load(), 10) + "\n"))
			return
		}
		served.Add(1)
		hdr := w.Header()
		hdr["X-Backend"] = []string{*name}
		hdr["Content-Type"] = []string{"text/plain"}
		hdr["Content-Length"] = []string{contentLength}
		w.Write(body)
	})
	srv := &http.Server{
		Addr:              *addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("backend %s listening on %s (%d-byte body)", *name, *addr, *size)
	log.Fatal(srv.ListenAndServe())
}

// uploadBufs: reading buffers of upload, big so that the origin's share of
// an upload's cost is small and the same for every contender.
var uploadBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// upload reads the body to its end, discarding it, and answers its length.
// net/http checks the framing: a body shorter than its Content-Length or a
// malformed chunk is a read error.
func upload(w http.ResponseWriter, r *http.Request, name string) {
	bp := uploadBufs.Get().(*[]byte)
	defer uploadBufs.Put(bp)
	buf := *bp
	var n int64
	var err error
	for {
		var k int
		k, err = r.Body.Read(buf)
		n += int64(k)
		if err != nil {
			break
		}
	}
	if err != io.EOF || (r.ContentLength >= 0 && n != r.ContentLength) {
		log.Printf("upload: %d bytes read of %d: %v", n, r.ContentLength, err)
		http.Error(w, fmt.Sprintf("upload: %d bytes read: %v", n, err), http.StatusBadRequest)
		return
	}
	got := strconv.FormatInt(n, 10)
	hdr := w.Header()
	hdr["X-Backend"] = []string{name}
	hdr["X-Received"] = []string{got}
	hdr["Content-Type"] = []string{"text/plain"}
	w.Write([]byte(got + "\n"))
}
