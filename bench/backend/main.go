// Command backend is the origin server of the benchmark harness (bench/run.sh,
// bench/reload.sh): a fixed-size body, the header "X-Backend: <name>" so that a
// client can tell which side of a split answered, and a request counter.
//
//	GET /__count   the number of requests served so far (this request is not counted)
//	anything else  200, the body, counted
//
// Keep-alive is on (net/http's default). It is deliberately plain net/http, as
// in research/perf-anchors.md, so that its cost per request is the same for
// every contender.
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"strconv"
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
