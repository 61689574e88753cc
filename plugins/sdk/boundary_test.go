package sdk

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSDKNeverImportsCore keeps the SDK the whole contract: a plugin
// author's build must not pull in Turnout's core.
func TestSDKNeverImportsCore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/turnout/turnout/") && !strings.HasPrefix(pkg, "github.com/turnout/turnout/plugins/sdk") {
			t.Errorf("plugins/sdk depends on %s", pkg)
		}
	}
}
