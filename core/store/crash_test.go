package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// helperDirEnv tells the re-executed test binary to act as the writer.
const helperDirEnv = "TURNOUT_STORE_HELPER_DIR"

const crashGateway = "crash/web"

// TestHelperWriter is not a test: TestCrashKill runs it in a child process,
// which writes revision after revision and prints each one after Apply has
// returned, i.e. after it is acknowledged.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashKill")
	}
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Bounded, so an orphan stops by itself if the parent dies.
	deadline := time.Now().Add(time.Minute)
	for rev := int64(1); time.Now().Before(deadline); rev++ {
		match := rev - 1 // Absent for the first
		if _, err := s.Apply(context.Background(), []Change{put(crashGateway, crashDoc(rev), match)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(rev) // os.Stdout is unbuffered: one write per line
	}
	os.Exit(3)
}

func crashDoc(rev int64) string { return fmt.Sprintf(`{"name":"crash/web","rev":%d}`, rev) }

// TestCrashKill SIGKILLs a writer in the middle of a stream of updates and
// checks that the store holds exactly the acknowledged revisions, plus at
// most the one in flight.
func TestCrashKill(t *testing.T) {
	if os.Getenv(helperDirEnv) != "" {
		t.Skip("inside the helper")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // if the test fails early

	lines := make(chan int64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rev, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
				lines <- rev
			}
		}
	}()
	var acked int64
	read := func(rev int64, ok bool) bool {
		if ok {
			if rev != acked+1 {
				t.Fatalf("helper acknowledged %d after %d", rev, acked)
			}
			acked = rev
		}
		return ok
	}
	deadline := time.After(waitFor * 3)
	for acked < 50 {
		select {
		case rev, ok := <-lines:
			if !read(rev, ok) {
				t.Fatalf("helper stopped after %d writes", acked)
			}
		case <-deadline:
			t.Fatalf("helper acknowledged only %d writes in time", acked)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lines already written to the pipe were acknowledged before the kill.
	for rev, ok := <-lines; read(rev, ok); rev, ok = <-lines {
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, want killed by SIGKILL (mid-stream)", err)
	}

	s := mustOpen(t, dir) // the kernel released the dead writer's lock
	defer s.Close()
	h := history(t, s, crashGateway)
	last := h[len(h)-1].Revision
	if last != acked && last != acked+1 {
		t.Fatalf("store holds revisions up to %d, %d were acknowledged", last, acked)
	}
	if first := max(1, last-HistoryLimit+1); h[0].Revision != first || int64(len(h)) != last-first+1 {
		t.Fatalf("history holds %d revisions from %d to %d, want %d..%d contiguous", len(h), h[0].Revision, last, first, last)
	}
	for i, e := range h {
		if e.Revision != h[0].Revision+int64(i) || e.Deleted || string(e.Doc) != crashDoc(e.Revision) {
			t.Fatalf("history[%d] = %+v, want revision %d with doc %s", i, e, h[0].Revision+int64(i), crashDoc(e.Revision))
		}
	}
	t.Logf("acknowledged %d, store holds up to %d", acked, last)
	// The store is usable: the writer's next revision follows on.
	if e := apply(t, s, put(crashGateway, "after", last))[0]; e.Revision != last+1 {
		t.Errorf("next revision = %d, want %d", e.Revision, last+1)
	}
}
