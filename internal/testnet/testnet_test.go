package testnet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A port another live test process was given is not given again; one
// whose process has ended is.
func TestClaimAcrossProcesses(t *testing.T) {
	claimDir = t.TempDir()
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pid  int
		want bool
	}{
		{os.Getppid(), false},
		{ended.Process.Pid, true},
	} {
		if err := os.WriteFile(filepath.Join(claimDir, "4242"), []byte(strconv.Itoa(tc.pid)), 0o666); err != nil {
			t.Fatal(err)
		}
		if got := claim(4242); got != tc.want {
			t.Errorf("port claimed by pid %d: claim %v, want %v", tc.pid, got, tc.want)
		}
	}
	if owner, _ := os.ReadFile(filepath.Join(claimDir, "4242")); string(owner) != strconv.Itoa(os.Getpid()) {
		t.Errorf("the taken-over claim names %q", owner)
	}
	if claim(4242) {
		t.Error("a port this process holds was claimed again")
	}
	if p := FreePort(t); !claimedBy(p, os.Getpid()) {
		t.Errorf("FreePort's port %d is not recorded", p)
	}
}

func claimedBy(p, pid int) bool {
	owner, err := os.ReadFile(filepath.Join(claimDir, strconv.Itoa(p)))
	return err == nil && string(owner) == strconv.Itoa(pid)
}
