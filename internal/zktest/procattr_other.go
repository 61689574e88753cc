//go:build !linux

package zktest

import "os/exec"

// dieWithTest: no parent-death signal outside Linux; the test's cleanups
// stop the server.
func dieWithTest(*exec.Cmd) {}
