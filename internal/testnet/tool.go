package testnet

import (
	"os"
	"os/exec"
	"testing"
)

// Tool is the path of a program a test needs (haproxy, say). Missing, the
// test fails in CI (CI set: .ci/run installs it, so its absence is a
// broken setup) and is skipped elsewhere; both say how to install it.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " is not installed (" + install + "; .ci/run installs it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
