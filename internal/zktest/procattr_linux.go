package zktest

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill the server if the test binary dies
// without its cleanups.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
