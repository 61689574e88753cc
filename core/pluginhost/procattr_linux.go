package pluginhost

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the plugin when Turnout dies, even by
// SIGKILL, when no cleanup code can run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
