// Package zktest runs a real ZooKeeper for tests: Debian's zookeeper package
// (a Java server), started standalone on 127.0.0.1 with a free port and a
// temporary data dir, no root and no system service. There is no fake
// ZooKeeper: what the store relies on (multi, versions, watches, sessions,
// ACLs) is ZooKeeper's own behaviour.
//
// Without ZooKeeper installed, Start skips the test and says how to install
// it; under CI (CI set) it fails instead, so a missing install is never a
// green run.
package zktest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Jar is where Debian's zookeeper package (libzookeeper-java) puts the
// server; its manifest's Class-Path names the jars it needs, so it is the
// whole class path. $ZOOKEEPER_JAR overrides it.
const Jar = "/usr/share/java/zookeeper.jar"

// startTimeout bounds a start: a JVM on a busy 2-core machine is slow.
const startTimeout = 60 * time.Second

// Server is one standalone ZooKeeper process.
type Server struct {
	t    testing.TB
	jar  string
	java string
	dir  string // holds zoo.cfg and data/
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
	logs *lockedBuffer
}

// Start starts a ZooKeeper for the test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	java, jar, err := find()
	if err != nil {
		msg := fmt.Sprintf("ZooKeeper is not installed (%v): install Debian's zookeeper package: apt-get install zookeeper (.ci/run does)", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s := &Server{t: t, java: java, jar: jar, dir: t.TempDir()}
	if err := os.Mkdir(filepath.Join(s.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("zookeeper output:\n%s", s.logs)
		}
	})
	// A port free a moment ago may be taken before the JVM binds it: try
	// a few.
	for try := 0; ; try++ {
		s.port = freePort(t)
		err := s.start()
		if err == nil {
			return s
		}
		if try == 4 {
			t.Fatalf("zookeeper did not start: %v\n%s", err, s.logs)
		}
		t.Logf("zookeeper did not start on port %d (%v); trying another", s.port, err)
	}
}

// find returns the java binary and the server jar, or why not.
func find() (java, jar string, err error) {
	jar = Jar
	if j := os.Getenv("ZOOKEEPER_JAR"); j != "" {
		jar = j
	}
	if _, err := os.Stat(jar); err != nil {
		return "", "", fmt.Errorf("no %s", jar)
	}
	java, err = exec.LookPath("java")
	if err != nil {
		return "", "", errors.New("no java in PATH")
	}
	return java, jar, nil
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Addr is the client address, 127.0.0.1:PORT.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// config is a standalone server on 127.0.0.1 only. tickTime 500ms allows
// sessions from 1s, and maxSessionTimeout up to 60s (the default cap,
// 20 ticks, would cut a test's longer session to 10s unsaid). forceSync=no: the tests do not test ZooKeeper's
// durability against power loss, and fsync per write makes them slow on a
// shared disk. No admin server (it would take port 8080) and only the
// four-letter words the harness uses.
func (s *Server) config() string {
	return fmt.Sprintf(`tickTime=500
maxSessionTimeout=60000
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,dump
forceSync=no
preAllocSize=4096
`, filepath.Join(s.dir, "data"), s.port)
}

func (s *Server) start() error {
	cfg := filepath.Join(s.dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(s.config()), 0o600); err != nil {
		return err
	}
	logs := &lockedBuffer{}
	// A small serial-GC heap and C1 only: the tests need little, start
	// faster, and share 2 cores with everything else.
	cmd := exec.Command(s.java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.admin.enableServer=false",
		"-cp", s.jar, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	cmd.Stdout, cmd.Stderr = logs, logs
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	exit := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exit)
	}()
	s.mu.Lock()
	s.cmd, s.exit, s.logs = cmd, exit, logs
	s.mu.Unlock()
	// The JVM says nothing when it is ready: ask it (ruok) until it
	// answers, it exits, or the deadline passes.
	deadline := time.After(startTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ruok(s.Addr()) {
		select {
		case <-exit:
			return fmt.Errorf("exited: %v", cmd.ProcessState)
		case <-deadline:
			s.Stop()
			return fmt.Errorf("not answering ruok after %v", startTimeout)
		case <-tick.C:
		}
	}
	return nil
}

// HasSession reports whether the server knows the session id (as
// go-zookeeper's Conn.SessionID gives it), from its dump four-letter word:
// a test that cuts a client off polls it to see the server expire the
// session.
func (s *Server) HasSession(id int64) bool {
	s.t.Helper()
	out, err := fourLetters(s.Addr(), "dump")
	if err != nil {
		s.t.Fatalf("zookeeper dump: %v", err)
	}
	sessions, _, _ := strings.Cut(out, "ephemeral nodes dump")
	return strings.Contains(sessions, fmt.Sprintf("0x%x\n", id))
}

// ruok is ZooKeeper's "are you ok" four-letter word: imok once serving.
func ruok(addr string) bool {
	out, err := fourLetters(addr, "ruok")
	return err == nil && strings.TrimSpace(out) == "imok"
}

// fourLetters sends one of ZooKeeper's four-letter words and returns the
// answer (the server closes the connection after it).
func fourLetters(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(c)
	return b.String(), err
}

// Stop kills the server (SIGKILL: an outage, not a shutdown) and waits
// for it to exit; its data stays for Restart. Idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exit := s.cmd, s.exit
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exit
}

// Restart starts the server again on the same port and data, after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("zookeeper did not restart on port %d: %v\n%s", s.port, err, s.logs)
	}
}

// lockedBuffer collects the server's output for a failed test's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
