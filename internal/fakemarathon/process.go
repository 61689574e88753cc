package fakemarathon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// ProcessEnv, set in a test binary's environment, makes ServeProcess serve
// a fake Marathon in that process: a test can then stop the fake with
// SIGSTOP, which leaves its listening socket accepting connections that
// nothing answers, as a hung Marathon does (a process stopped, or stuck in
// a long garbage collection). Its value is the Version, as a number.
const ProcessEnv = "TURNOUT_FAKE_MARATHON_PROCESS"

// ServeProcess, called first in a test binary's TestMain, serves a fake
// Marathon and exits when ProcessEnv is set; otherwise it returns at once.
// The fake prints its URL on the first line of standard output, then runs
// the commands it reads from standard input, one JSON object a line (see
// command), answering each with "ok" or "error: ..." on a line.
func ServeProcess() {
	v, ok := os.LookupEnv(ProcessEnv)
	if !ok {
		return
	}
	var version Version
	fmt.Sscan(v, &version)
	s, err := NewServer(Options{Version: version})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakemarathon:", err)
		os.Exit(2)
	}
	fmt.Println(s.URL())
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var c command
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			fmt.Println("error:", err)
			continue
		}
		if err := c.run(s); err != nil {
			fmt.Println("error:", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Println("ok")
	}
	s.Stop()
	os.Exit(0)
}

// command is one request to a fake running as a process.
type command struct {
	Deploy  *AppSpec `json:"deploy,omitempty"`
	Healthy string   `json:"healthy,omitempty"`
}

func (c command) run(s *Server) error {
	switch {
	case c.Deploy != nil:
		s.Deploy(*c.Deploy)
		return nil
	case c.Healthy != "":
		return s.MarkHealthy(c.Healthy)
	}
	return fmt.Errorf("empty command")
}

// Process is a fake Marathon running as a process of its own: the test
// binary itself, started again with ProcessEnv set.
type Process struct {
	t   testing.TB
	cmd *exec.Cmd
	url string

	mu     sync.Mutex
	in     io.WriteCloser
	out    *bufio.Scanner
	frozen bool
}

// StartProcess starts a fake Marathon process that is killed when the
// test ends. The test binary's TestMain must call ServeProcess.
func StartProcess(t testing.TB, version Version) *Process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", ProcessEnv, version))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("fakemarathon: start a fake Marathon process: %v", err)
	}
	p := &Process{t: t, cmd: cmd, in: in, out: bufio.NewScanner(out)}
	t.Cleanup(func() {
		p.Thaw()
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	if !p.out.Scan() {
		t.Fatalf("fakemarathon: the fake Marathon process printed no URL: %v", p.out.Err())
	}
	p.url = strings.TrimSpace(p.out.Text())
	return p
}

// URL is the fake's base URL, http://127.0.0.1:PORT.
func (p *Process) URL() string { return p.url }

// Pid is the fake's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Deploy is Server.Deploy in the process.
func (p *Process) Deploy(spec AppSpec) { p.do(command{Deploy: &spec}) }

// MarkHealthy is Server.MarkHealthy in the process.
func (p *Process) MarkHealthy(appID string) { p.do(command{Healthy: appID}) }

func (p *Process) do(c command) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.t.Fatalf("fakemarathon: a command to a frozen fake Marathon")
	}
	b, _ := json.Marshal(c)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("fakemarathon: %v", err)
	}
	if !p.out.Scan() {
		p.t.Fatalf("fakemarathon: the fake Marathon process did not answer: %v", p.out.Err())
	}
	if got := p.out.Text(); got != "ok" {
		p.t.Fatalf("fakemarathon: %s", got)
	}
}

// Freeze stops the process (SIGSTOP): its socket still accepts
// connections, but nothing answers on them.
func (p *Process) Freeze() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		p.t.Fatalf("fakemarathon: SIGSTOP: %v", err)
	}
	p.frozen = true
}

// Thaw continues a frozen process (SIGCONT).
func (p *Process) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.frozen = false
	}
}
