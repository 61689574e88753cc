package universe

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/internal/testnet"
)

// TestPackageRunsOnAMesosAgent follows the package's way in, without
// Docker and without a cluster: `make release` builds the tarball the
// package fetches, the tarball is checked against SHA256SUMS and extracted
// into a sandbox as the Mesos fetcher does, and the rendered app's cmd runs
// there under /bin/sh with the app's env and Mesos's variables. Marathon's
// health check (/healthz) and readiness check (/readyz) must pass without
// the token, the token must guard the
// API, a gateway applied with the CLI must get a port from the package's
// range and split traffic, the store must be in the sandbox, and SIGTERM
// must stop the task within taskKillGracePeriodSeconds.
func TestPackageRunsOnAMesosAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release tarball and runs it")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the package runs the linux binary")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}

	// The release tarball, from the Makefile's own recipe.
	dist := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	mk := exec.Command("make", "-C", "..", "release", "DIST="+dist, "RELEASE_PLATFORMS="+platform, "VERSION=v0.1.0")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	tarball := "turnout-0.1.0-" + runtime.GOOS + "-" + runtime.GOARCH + ".tar.gz"
	checkSum(t, dist, tarball)

	const token = "e2e-token"
	admin := testnet.FreePort(t)
	_, app, err := renderOurs(t, map[string]any{
		"gateways": map[string]any{"admin_port": jsonInt(admin)},
		"security": map[string]any{"token": token},
		// Nothing listens there: Turnout must start without Marathon.
		"marathon": map[string]any{"url": "http://127.0.0.1:1"},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The fetcher: the app's first URI is the package's tarball for this
	// version (here built for this machine's architecture), extracted.
	uri := app["fetch"].([]any)[0].(map[string]any)["uri"].(string)
	if want := "turnout-0.1.0-linux-amd64.tar.gz"; !strings.HasSuffix(uri, "/"+want) {
		t.Fatalf("the app fetches %s, want the release's %s", uri, want)
	}
	sandbox := t.TempDir()
	extract(t, filepath.Join(dist, tarball), sandbox)
	binary := filepath.Join(sandbox, "turnout")
	checkStatic(t, binary)

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + sandbox, "MESOS_SANDBOX=" + sandbox,
		"HOST=127.0.0.1", fmt.Sprintf("PORT0=%d", admin), fmt.Sprintf("PORT_ADMIN=%d", admin)}
	for k, v := range app["env"].(map[string]any) {
		env = append(env, k+"="+v.(string))
	}
	var logs testnet.Buffer
	cmd := exec.Command("/bin/sh", "-c", app["cmd"].(string))
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = sandbox, env, &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("turnout's log:\n%s", logs.String())
		}
	})

	base := fmt.Sprintf("http://127.0.0.1:%d", admin)
	testnet.Eventually(t, 20*time.Second, "/healthz to answer 200", func() bool {
		return status(base+"/healthz", "") == http.StatusOK
	})
	if s := status(base+"/readyz", ""); s != http.StatusOK {
		t.Errorf("/readyz without the token answers %d, want 200", s)
	}
	if s := status(base+"/api/v1/gateways", ""); s != http.StatusUnauthorized {
		t.Errorf("the API without the token answers %d, want 401", s)
	}
	if s := status(base+"/api/v1/gateways", token); s != http.StatusOK {
		t.Errorf("the API with the token answers %d, want 200", s)
	}

	// The seed's gateway, without its port and with two local backends
	// standing in for the Minuteman VIPs.
	a, b := testnet.Backend(t, "simple-service-1.0.0"), testnet.Backend(t, "simple-service-1.1.0")
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, file, fmt.Sprintf("name: simpleservice\nroutes:\n  \"[%s]\":\n    weight: 50%%\n  \"[%s]\":\n    weight: 50%%\n", a, b))
	out, err := exec.Command(binary, "gateway", "apply", "-f", file, "--addr", base, "--token", token).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gateway/simpleservice created") {
		t.Fatalf("turnout gateway apply: %v\n%s", err, out)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/gateways/simpleservice", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	g, err := gateway.DecodeOne(body, "GET")
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	lo, hi := parseRange(t, serveArgs(t, app)["port-range"])
	if g.Port.Number < lo || g.Port.Number > hi {
		t.Fatalf("the gateway got port %d, outside the package's range %d-%d", g.Port.Number, lo, hi)
	}
	seen := map[string]bool{}
	testnet.Eventually(t, 10*time.Second, "both versions to answer through the gateway", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", g.Port.Number))
		if err == nil {
			seen[resp.Header.Get("X-Backend")] = true
			resp.Body.Close()
		}
		return seen["simple-service-1.0.0"] && seen["simple-service-1.1.0"]
	})
	testnet.Eventually(t, 10*time.Second, "/readyz to answer 200 with the gateway in service", func() bool {
		return status(base+"/readyz", "") == http.StatusOK
	})

	// The store is in the sandbox, beside the binary (not in its place:
	// the binary is sandbox/turnout).
	if fi, err := os.Stat(filepath.Join(sandbox, app["env"].(map[string]any)["TURNOUT_DATA_DIR"].(string))); err != nil || !fi.IsDir() {
		t.Errorf("no store in the sandbox: %v", err)
	}

	grace := time.Duration(toInt(t, app["taskKillGracePeriodSeconds"])) * time.Second
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("turnout exited with %v after SIGTERM", err)
		}
	case <-time.After(grace):
		t.Errorf("turnout still runs %v after SIGTERM (taskKillGracePeriodSeconds)", grace)
	}
}

func status(url, token string) int {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkSum verifies name against dir/SHA256SUMS.
func checkSum(t *testing.T, dir, name string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[1] == name {
			if fields[0] != hex.EncodeToString(sum[:]) {
				t.Fatalf("SHA256SUMS has %s for %s, the file hashes to %x", fields[0], name, sum)
			}
			return
		}
	}
	t.Fatalf("SHA256SUMS does not list %s", name)
}

// extract unpacks a .tar.gz into dir, as the Mesos fetcher does with
// "extract": true.
func extract(t *testing.T, tarball, dir string) {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || strings.Contains(h.Name, "..") {
			t.Fatalf("unexpected entry %s in %s", h.Name, tarball)
		}
		out, err := os.OpenFile(filepath.Join(dir, h.Name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkStatic fails unless the binary needs no dynamic loader: Mesos agents
// run whatever libc their distribution has, or none in a minimal image.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (it has an interpreter)", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs %v", path, libs)
	}
}
