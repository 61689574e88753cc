package pluginv1

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates the protocol's Go code from
// plugin.proto and fails when the committed code differs: someone changed
// the .proto without `make proto`, or edited generated code by hand.
// protoc comes from Debian's protobuf-compiler (.ci/run installs it).
func TestGeneratedCodeIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs protoc")
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("protoc is not installed (apt-get install protobuf-compiler)")
		}
		t.Skip("protoc is not installed (apt-get install protobuf-compiler)")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "generate.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate.sh: %v\n%s", err, b)
	}
	for _, f := range []string{"plugin.pb.go", "plugin_grpc.pb.go"} {
		fresh, err := os.ReadFile(filepath.Join(out, "plugins/sdk/internal/pluginv1", f))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("%s is stale: run `make proto` and commit the result", f)
		}
	}
}
