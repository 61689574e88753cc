// Command upload streams one request body of -size bytes to a URL, with
// Content-Length or (-chunked) Transfer-Encoding: chunked, and prints how fast
// it went. It is the client of bench/upload.sh.
//
// It writes HTTP/1.1 itself on a plain TCP connection so that its own cost is
// as small and as constant as possible: the body is one zeroed buffer written
// -write bytes at a time (with -chunked, each write is one chunk, sent with
// its framing in a single writev), nothing is generated or copied per byte.
// The clock runs from the connection's first byte to the last byte of the
// response. The origin (bench/backend, POST /upload) answers the number of
// body bytes it read; anything but 200 with exactly -size is a failure.
//
// Output, one line, for scripts (exit status 1 on a failure):
//
//	bytes=1073741824 seconds=2.512 mib_s=407.6 status=200 received=1073741824 backend=b1 client_cpu_s=0.41
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:19001/upload", "URL to POST the body to")
	size := flag.Int64("size", 1<<30, "body size in bytes")
	chunked := flag.Bool("chunked", false, "send the body chunked instead of with Content-Length")
	write := flag.Int("write", 64<<10, "bytes per write (with -chunked: per chunk)")
	timeout := flag.Duration("timeout", 5*time.Minute, "deadline for the whole upload")
	flag.Parse()
	if *size < 0 || *write <= 0 {
		fmt.Fprintln(os.Stderr, "upload: -size must be >= 0 and -write > 0")
		os.Exit(2)
	}
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fmt.Fprintf(os.Stderr, "upload: -url must be http://host:port/path (%v)\n", err)
		os.Exit(2)
	}
	res, err := run(u, *size, *chunked, *write, *timeout)
	status, received, backend := "NA", "NA", "NA"
	if res.resp != nil {
		status = strconv.Itoa(res.resp.StatusCode)
		received = orNA(res.resp.Header.Get("X-Received"))
		backend = orNA(res.resp.Header.Get("X-Backend"))
	}
	mibs := "NA"
	if err == nil && res.elapsed > 0 {
		mibs = fmt.Sprintf("%.1f", float64(*size)/(1<<20)/res.elapsed.Seconds())
	}
	fmt.Printf("bytes=%d seconds=%.3f mib_s=%s status=%s received=%s backend=%s client_cpu_s=%.2f\n",
		*size, res.elapsed.Seconds(), mibs, status, received, backend, cpuSeconds())
	if err != nil {
		fmt.Fprintln(os.Stderr, "upload:", err)
		os.Exit(1)
	}
}

func orNA(s string) string {
	if s == "" {
		return "NA"
	}
	return s
}

type result struct {
	resp    *http.Response
	elapsed time.Duration
}

func run(u *url.URL, size int64, chunked bool, write int, timeout time.Duration) (result, error) {
	var res result
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return res, err
	}
	defer c.Close()
	start := time.Now()
	c.SetDeadline(start.Add(timeout))

	// The response is read meanwhile: a proxy or origin that answers before
	// the body is done (an error) stops the upload instead of blocking it.
	type answer struct {
		resp *http.Response
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		answered <- answer{resp, err}
	}()

	path := u.RequestURI()
	framing := "Content-Length: " + strconv.FormatInt(size, 10)
	if chunked {
		framing = "Transfer-Encoding: chunked"
	}
	head := "POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: turnout-bench-upload\r\n" +
		"Content-Type: application/octet-stream\r\n" + framing + "\r\n\r\n"
	werr := send(c, []byte(head), size, chunked, write)
	var a answer
	if werr != nil {
		// The answer may explain why the write failed (or it is the failure).
		select {
		case a = <-answered:
		case <-time.After(2 * time.Second):
		}
	} else {
		a = <-answered
	}
	res.elapsed = time.Since(start)
	res.resp = a.resp
	switch {
	case werr != nil && a.resp != nil:
		return res, fmt.Errorf("answered %s before the body was sent (%v)", a.resp.Status, werr)
	case werr != nil:
		return res, fmt.Errorf("sending the body: %w", werr)
	case a.err != nil:
		return res, fmt.Errorf("reading the response: %w", a.err)
	case a.resp.StatusCode != http.StatusOK:
		return res, fmt.Errorf("answered %s", a.resp.Status)
	case a.resp.Header.Get("X-Received") != strconv.FormatInt(size, 10):
		return res, fmt.Errorf("the origin received %q bytes, not %d", a.resp.Header.Get("X-Received"), size)
	}
	return res, nil
}

// send writes the head and size bytes of zeroes, write bytes at a time.
func send(c net.Conn, head []byte, size int64, chunked bool, write int) error {
	buf := make([]byte, write)
	if !chunked {
		if _, err := c.Write(head); err != nil {
			return err
		}
		for left := size; left > 0; {
			n := int64(len(buf))
			if left < n {
				n = left
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return err
			}
			left -= n
		}
		return nil
	}
	crlf := []byte("\r\n")
	first := head
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		bufs := net.Buffers{first, []byte(strconv.FormatInt(n, 16) + "\r\n"), buf[:n], crlf}
		if _, err := bufs.WriteTo(c); err != nil {
			return err
		}
		first = nil
		left -= n
	}
	_, err := c.Write(append(first, "0\r\n\r\n"...))
	return err
}

// cpuSeconds is the user+system CPU time this process used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
