package universe

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/release"
)

// packageVersion is the Universe package's version (0.2.0, say): the
// release the tests build is that one, since `make release` refuses any
// other.
func packageVersion(t *testing.T) string {
	t.Helper()
	pj, err := ourPackage.read("package.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := release.PackageVersion(pj)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The package's version and resource.json are generated from the release
// version (`make universe-package VERSION=...`), and the changelog has an
// entry for it: `make release` refuses otherwise, and so does this test,
// saying which command regenerates them.
func TestPackageIsGeneratedFromItsVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(string(ourPackage), "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := release.PackageVersion(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := release.CheckPackage(string(ourPackage), "v"+v, release.DefaultBase); err != nil {
		t.Error(err)
	}
	if err := release.CheckChangelog("../CHANGELOG.md", "v"+v); err != nil {
		t.Error(err)
	}
}

// needMake skips a test that builds with make (a release, the image)
// under -short or where make is not installed; it returns the repository's
// root.
func needMake(t *testing.T, why string) string {
	t.Helper()
	if testing.Short() {
		t.Skip(why)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// `make release` and `make image` build the same bytes twice from the same
// commit: once in this checkout, once in a copy elsewhere whose files all
// have new mtimes (so neither the path nor file times leak in). One
// platform only, to stay within a minute or two; the other platforms go
// through the same recipe. The Go build cache is shared by default, so
// this checks the tarballs, SBOMs, the image and SHA256SUMS around the
// binary, and that the binary does not
// depend on the checkout's path (-trimpath). RELEASE_TEST_COLD_CACHE=1
// gives the second build an empty build cache, so that every package is
// compiled again (about two and a half minutes more on two cores).
func TestReleaseIsReproducible(t *testing.T) {
	root := needMake(t, "builds a release twice")
	epoch := gitOut(t, root, "log", "-1", "--format=%ct")
	copyDir := t.TempDir()
	for _, f := range strings.Split(gitOut(t, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"), "\x00") {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the checkout, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(copyDir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	version := packageVersion(t)
	// The copy is no git checkout, so the image's revision is given.
	revision := gitOut(t, root, "rev-parse", "HEAD")
	build := func(dir string, env ...string) string {
		dist := t.TempDir()
		// Then the image, from the release's linux tarball (built by make
		// image itself on other systems).
		for _, target := range [][]string{
			{"release", "RELEASE_PLATFORMS=" + platform},
			{"image", "IMAGE_PLATFORMS=linux/" + runtime.GOARCH, "REVISION=" + revision},
		} {
			mk := exec.Command("make", append([]string{"-C", dir, target[0], "VERSION=v" + version, "DIST=" + dist}, target[1:]...)...)
			mk.Env = append(append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch), env...)
			if out, err := mk.CombinedOutput(); err != nil {
				t.Fatalf("make %s in %s: %v\n%s", target[0], dir, err, out)
			}
		}
		return dist
	}
	var cold []string
	if os.Getenv("RELEASE_TEST_COLD_CACHE") == "1" {
		cold = []string{"GOCACHE=" + t.TempDir()}
	}
	a, b := build(root), build(copyDir, cold...)
	sumsA, err := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sumsB, err := os.ReadFile(filepath.Join(b, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sumsA, sumsB) {
		t.Fatalf("two builds of the same commit differ:\n%s\n%s", sumsA, sumsB)
	}
	name := "turnout-" + version + "-" + runtime.GOOS + "-" + runtime.GOARCH
	for _, f := range []string{name + ".tar.gz", name + ".cdx.json", "turnout-" + version + "-oci.tar"} {
		if !strings.Contains(string(sumsA), "  "+f+"\n") {
			t.Errorf("SHA256SUMS does not list %s:\n%s", f, sumsA)
		}
	}
	checkSum(t, a, name+".tar.gz")

	// The tarball: sorted, owned by 0:0, every time the commit's.
	want, _ := strconv.ParseInt(epoch, 10, 64)
	var names []string
	f, err := os.Open(filepath.Join(a, name+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header has time %v and name %q, want neither", zr.ModTime, zr.Name)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(want, 0)) {
			t.Errorf("%s: owner %d:%d (%q:%q), mtime %v; want 0:0, no names, %v", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime, time.Unix(want, 0))
		}
		if h.Name == "LICENSE" {
			b, _ := io.ReadAll(tr)
			if !bytes.Contains(b, []byte("Apache License")) || !bytes.Contains(b, []byte("Version 2.0, January 2004")) {
				t.Errorf("the tarball's LICENSE is not Apache-2.0")
			}
		}
	}
	if strings.Join(names, " ") != "LICENSE turnout" {
		t.Errorf("tarball holds %v, want [LICENSE turnout]", names)
	}

	// The SBOM: CycloneDX for this version, with no time in it.
	sb, err := os.ReadFile(filepath.Join(a, name+".cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat string `json:"bomFormat"`
		Serial    string `json:"serialNumber"`
		Metadata  struct {
			Timestamp string `json:"timestamp"`
			Component struct {
				Version string `json:"version"`
			} `json:"component"`
		} `json:"metadata"`
		Components []json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(sb, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Version != "v"+version || bom.Metadata.Timestamp != "" || bom.Serial != "" || len(bom.Components) == 0 {
		t.Errorf("SBOM: format %q, version %q, timestamp %q, serial %q, %d components; want CycloneDX for v%s with components, no timestamp or serial",
			bom.BOMFormat, bom.Metadata.Component.Version, bom.Metadata.Timestamp, bom.Serial, len(bom.Components), version)
	}
}

// `make release` refuses a version without a changelog entry, before
// building anything.
func TestReleaseNeedsAChangelogEntry(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dist := filepath.Join(t.TempDir(), "dist")
	out, err := exec.Command("make", "-C", "..", "release", "VERSION=v9.9.9", "DIST="+dist).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `CHANGELOG.md has no entry for v9.9.9: add a "## v9.9.9" section`) {
		t.Fatalf("make release VERSION=v9.9.9: %v\n%s", err, out)
	}
	if _, err := os.Stat(dist); !os.IsNotExist(err) {
		t.Errorf("a refused release wrote %s", dist)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		t.Skipf("git %v: %v (not a git checkout)", args, err)
	}
	return strings.TrimSpace(string(out))
}
