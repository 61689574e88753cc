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
	"github.com/turnout/turnout/internal/zktest"
)

// TestPackageRunsOnAMesosAgent follows the package's way in, without
// Docker and without a cluster: `make release` builds the tarball the
// package fetches, the tarball is checked against SHA256SUMS and extracted
// into a sandbox as the Mesos fetcher does, and the rendered app's cmd runs
// there under /bin/sh with the app's env and Mesos's variables. Marathon's
// health check (/healthz) and readiness check (/readyz) must pass without
// the token, the token must guard the API, a gateway applied with the CLI
// must get a port from the package's range and split traffic, and SIGTERM
// must stop the task within taskKillGracePeriodSeconds.
//
// Then the task is replaced, as an upgrade, a restart or an agent's loss
// does: a second task starts in a new sandbox and must serve the gateway
// without anyone applying it again. With ZooKeeper (the default; a real
// ZooKeeper here) it reads the store's znode; without, it gets the first
// task's local persistent volume, which Mesos mounts at the volume's
// containerPath in the new sandbox (a symbolic link here).
func TestPackageRunsOnAMesosAgent(t *testing.T) {
	needMake(t, "builds a release tarball and runs it")
	if runtime.GOOS != "linux" {
		t.Skip("the package runs the linux binary")
	}

	// The release tarball, from the Makefile's own recipe.
	dist := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	version := packageVersion(t)
	mk := exec.Command("make", "-C", "..", "release", "DIST="+dist, "RELEASE_PLATFORMS="+platform, "VERSION=v"+version)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	tarball := filepath.Join(dist, "turnout-"+version+"-"+runtime.GOOS+"-"+runtime.GOARCH+".tar.gz")
	checkSum(t, dist, filepath.Base(tarball))

	t.Run("volume", func(t *testing.T) {
		volume := t.TempDir() // outlives the tasks, as the reservation does
		replaceTask(t, tarball, map[string]any{
			"service":   map[string]any{"role": "*"},
			"zookeeper": map[string]any{"enabled": false},
		}, func(t *testing.T, app map[string]any, sandbox string) {
			vol := persistentVolumes(app)[0]["containerPath"].(string)
			if err := os.Symlink(volume, filepath.Join(sandbox, vol)); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, app map[string]any, sandbox string) {
			if _, err := os.Stat(filepath.Join(volume, "turnout.db")); err != nil {
				entries, _ := os.ReadDir(volume)
				t.Errorf("the store is not on the volume: %v (the volume holds %v)", err, entries)
			}
		})
	})
	t.Run("zookeeper", func(t *testing.T) {
		zk := zktest.Start(t)
		replaceTask(t, tarball, map[string]any{
			"zookeeper": map[string]any{"servers": zk.Addr()},
		}, func(*testing.T, map[string]any, string) {}, func(t *testing.T, app map[string]any, sandbox string) {
			// Nothing of the store in the sandbox: only the tarball's files.
			entries, err := os.ReadDir(sandbox)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if strings.Join(names, " ") != "LICENSE turnout" {
				t.Errorf("the sandbox holds %v, want only the tarball's LICENSE and turnout", names)
			}
		})
	})
}

// replaceTask renders the package with opts (and a token, a free admin
// port, an unreachable Marathon), runs a first task, applies a gateway
// through it and stops it, then runs a second task in a new sandbox and
// checks that it serves the gateway. prepare readies each sandbox after
// the fetcher's extraction; stored checks the first task's store.
func replaceTask(t *testing.T, tarball string, opts map[string]any, prepare, stored func(t *testing.T, app map[string]any, sandbox string)) {
	const token = "e2e-token"
	admin := testnet.FreePort(t)
	_, app, err := renderOurs(t, deepMerge(opts, map[string]any{
		"gateways": map[string]any{"admin_port": jsonInt(admin)},
		"security": map[string]any{"token": token},
		// Nothing listens there: Turnout must start without Marathon.
		"marathon": map[string]any{"url": "http://127.0.0.1:1"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	// The fetcher: the app's first URI is the package's tarball for this
	// version (here built for this machine's architecture), extracted.
	uri := app["fetch"].([]any)[0].(map[string]any)["uri"].(string)
	if want := "turnout-" + packageVersion(t) + "-linux-amd64.tar.gz"; !strings.HasSuffix(uri, "/"+want) {
		t.Fatalf("the app fetches %s, want the release's %s", uri, want)
	}
	newSandbox := func() string {
		sandbox := t.TempDir()
		extract(t, tarball, sandbox)
		checkStatic(t, filepath.Join(sandbox, "turnout"))
		prepare(t, app, sandbox)
		return sandbox
	}

	first := newSandbox()
	task := startTask(t, app, first, admin)
	base := task.base
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
	out, err := exec.Command(filepath.Join(first, "turnout"), "gateway", "apply", "-f", file, "--addr", base, "--token", token).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gateway/simpleservice created") {
		t.Fatalf("turnout gateway apply: %v\n%s", err, out)
	}
	port := gatewayPort(t, base, token)
	lo, hi := parseRange(t, serveArgs(t, app)["port-range"])
	if port < lo || port > hi {
		t.Fatalf("the gateway got port %d, outside the package's range %d-%d", port, lo, hi)
	}
	splitsTraffic(t, port)
	testnet.Eventually(t, 10*time.Second, "/readyz to answer 200 with the gateway in service", func() bool {
		return status(base+"/readyz", "") == http.StatusOK
	})
	stored(t, app, first)
	task.stop(t)

	// The replacement: a new sandbox, nothing applied again.
	second := startTask(t, app, newSandbox(), admin)
	testnet.Eventually(t, 20*time.Second, "the new task's /readyz to answer 200", func() bool {
		return status(second.base+"/readyz", "") == http.StatusOK
	})
	if p := gatewayPort(t, second.base, token); p != port {
		t.Errorf("after the replacement the gateway has port %d, it had %d", p, port)
	}
	splitsTraffic(t, port)
	second.stop(t)
}

type task struct {
	base    string
	grace   time.Duration
	cmd     *exec.Cmd
	exited  chan error
	stopped bool
}

// startTask runs the app's cmd in sandbox as a Mesos agent would, and
// waits for Marathon's health check to pass.
func startTask(t *testing.T, app map[string]any, sandbox string, admin int) *task {
	t.Helper()
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
	tk := &task{base: fmt.Sprintf("http://127.0.0.1:%d", admin), cmd: cmd, exited: make(chan error, 1),
		grace: time.Duration(toInt(t, app["taskKillGracePeriodSeconds"])) * time.Second}
	go func() { tk.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !tk.stopped {
			cmd.Process.Kill()
			<-tk.exited
		}
		if t.Failed() {
			t.Logf("turnout's log (%s):\n%s", sandbox, logs.String())
		}
	})
	// Its own log line first: the port is the same across a replacement,
	// and only that line says this process, not another, answers there.
	testnet.Eventually(t, 40*time.Second, "turnout to say it serves and /healthz to answer 200", func() bool {
		select {
		case err := <-tk.exited:
			tk.stopped = true
			t.Fatalf("turnout exited: %v\n%s", err, logs.String())
		default:
		}
		return strings.Contains(logs.String(), "turnout serving") && status(tk.base+"/healthz", "") == http.StatusOK
	})
	return tk
}

// stop sends SIGTERM, as Mesos does, and waits up to the kill grace period.
func (tk *task) stop(t *testing.T) {
	t.Helper()
	if err := tk.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-tk.exited:
		tk.stopped = true
		if err != nil {
			t.Errorf("turnout exited with %v after SIGTERM", err)
		}
	case <-time.After(tk.grace):
		t.Errorf("turnout still runs %v after SIGTERM (taskKillGracePeriodSeconds)", tk.grace)
	}
}

func gatewayPort(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/gateways/simpleservice", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the gateway: %d %s", resp.StatusCode, body)
	}
	g, err := gateway.DecodeOne(body, "GET")
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return g.Port.Number
}

func splitsTraffic(t *testing.T, port int) {
	t.Helper()
	seen := map[string]bool{}
	testnet.Eventually(t, 10*time.Second, "both versions to answer through the gateway", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			seen[resp.Header.Get("X-Backend")] = true
			resp.Body.Close()
		}
		return seen["simple-service-1.0.0"] && seen["simple-service-1.1.0"]
	})
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
