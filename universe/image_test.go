package universe

import (
	"archive/tar"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/turnout/turnout/internal/release"
)

// `make image` writes the container image as an OCI layout tar, without a
// Docker daemon, and this test reads it with go-containerregistry as a
// registry client would: the index and its annotations, the manifest, the
// configuration (entrypoint, a non-root user by number, the admin port,
// the labels), the layer's exact file list (no shell, nothing but the
// binary and its two directories) and that the binary in it runs and
// prints the version. One platform, the machine's architecture, to stay
// within a minute (the binary is cached by the Go build cache after the
// first build); linux/arm64 goes through the same code.
func TestImage(t *testing.T) {
	root := needMake(t, "builds the binary and the image")
	epoch := gitOut(t, root, "log", "-1", "--format=%ct")
	revision := gitOut(t, root, "rev-parse", "HEAD")
	platform := "linux/" + runtime.GOARCH
	version := packageVersion(t)
	dist := t.TempDir()
	mk := exec.Command("make", "-C", root, "image", "VERSION=v"+version, "IMAGE_PLATFORMS="+platform, "DIST="+dist, "REVISION="+revision)
	mk.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	name := "turnout-" + version + "-oci.tar"
	checkSum(t, dist, name)
	sec, _ := strconv.ParseInt(epoch, 10, 64)
	created := time.Unix(sec, 0).UTC()

	// The layout: index.json names one image index, tagged with the version.
	dir := t.TempDir()
	untar(t, filepath.Join(dist, name), dir)
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topManifest.Manifests); n != 1 {
		t.Fatalf("index.json has %d manifests, want 1", n)
	}
	d := topManifest.Manifests[0]
	if d.MediaType != types.OCIImageIndex || d.Annotations["org.opencontainers.image.ref.name"] != version ||
		d.Annotations["io.containerd.image.name"] != "docker.io/turnout/turnout:"+version {
		t.Errorf("index.json's manifest: %s with annotations %v; want an OCI image index tagged %s, docker.io/turnout/turnout:%[3]s", d.MediaType, d.Annotations, version)
	}
	idx, err := top.ImageIndex(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	// Every digest and size in it matches its blob, every platform its
	// config, every diff ID its layer.
	if err := validate.Index(idx); err != nil {
		t.Fatalf("the image index does not validate: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.String() != platform ||
		im.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Fatalf("the image index lists %+v, want one OCI manifest for %s", im.Manifests, platform)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}

	// The configuration.
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Time.Equal(created) {
		t.Errorf("config: %s/%s created %v, want %s created %v (SOURCE_DATE_EPOCH)", cf.OS, cf.Architecture, cf.Created.Time, platform, created)
	}
	if strings.Join(c.Entrypoint, " ") != "/usr/local/bin/turnout" || strings.Join(c.Cmd, " ") != "serve" {
		t.Errorf("entrypoint %q, cmd %q; want [/usr/local/bin/turnout] [serve]", c.Entrypoint, c.Cmd)
	}
	uid, gid, _ := strings.Cut(c.User, ":")
	if u, err := strconv.Atoi(uid); err != nil || u == 0 {
		t.Errorf("user %q: want a non-root user by number (the image has no /etc/passwd)", c.User)
	}
	if g, err := strconv.Atoi(gid); err != nil || g == 0 {
		t.Errorf("user %q: want a non-root group by number", c.User)
	}
	if _, ok := c.ExposedPorts["9880/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want the admin port 9880/tcp", slices.Sorted(maps.Keys(c.ExposedPorts)))
	}
	if !slices.Contains(c.Env, "TURNOUT_ADMIN=0.0.0.0:9880") || !slices.Contains(c.Env, "TURNOUT_DATA_DIR=/var/lib/turnout") {
		t.Errorf("env %q: want the admin listener on 0.0.0.0:9880 and the store in /var/lib/turnout", c.Env)
	}
	if _, ok := c.Volumes["/var/lib/turnout"]; !ok {
		t.Errorf("volumes %v, want /var/lib/turnout", c.Volumes)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  "v" + version,
		"org.opencontainers.image.source":   "https://github.com/turnout/turnout",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.revision": revision,
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}

	// The layer: exactly these files, owned and dated as listed; no shell.
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
	}
	var files []string
	bin := filepath.Join(t.TempDir(), "turnout")
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, h.Name+" "+strconv.FormatInt(h.Mode, 8)+" "+strconv.Itoa(h.Uid)+":"+strconv.Itoa(h.Gid))
		if !h.ModTime.Equal(created) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, created)
		}
		if strings.HasSuffix(h.Name, "bin/sh") || strings.HasSuffix(h.Name, "bin/busybox") {
			t.Errorf("the image has a shell: %s", h.Name)
		}
		if h.Name == "usr/local/bin/turnout" {
			f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	want := []string{"tmp/ 1777 0:0", "usr/ 755 0:0", "usr/local/ 755 0:0", "usr/local/bin/ 755 0:0",
		"usr/local/bin/turnout 755 0:0", "var/ 755 0:0", "var/lib/ 755 0:0", "var/lib/turnout/ 755 10001:10001"}
	if !slices.Equal(files, want) {
		t.Errorf("the layer holds\n  %s\nwant\n  %s", strings.Join(files, "\n  "), strings.Join(want, "\n  "))
	}
	if c.User != release.ImageUser || !slices.Contains(files, "var/lib/turnout/ 755 "+release.ImageUser) {
		t.Errorf("the data directory is not owned by the image's user %s", c.User)
	}

	// The binary runs (a static linux binary: only on linux).
	if runtime.GOOS != "linux" {
		t.Skipf("the image's linux binary cannot run on %s", runtime.GOOS)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if want := "turnout v" + version; err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("the image's turnout version: %v, %q; want %q", err, out, want)
	}
}

// untar extracts the OCI layout tar into dir (its names are the layout's
// own, checked to stay inside dir).
func untar(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("%s: entry %q is outside the layout", file, h.Name)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
