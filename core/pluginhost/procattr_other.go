//go:build !linux

package pluginhost

import "os/exec"

// dieWithParent relies on sdk.Serve's parent watch where the kernel offers
// no parent-death signal.
func dieWithParent(*exec.Cmd) {}
