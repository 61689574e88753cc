package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckVersion(t *testing.T) {
	for _, v := range []string{"v0.1.0", "v1.22.3", "v1.0.0-rc.1"} {
		if err := CheckVersion(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for _, v := range []string{"", "0.1.0", "v1.2", "v01.2.3", "4fc9eb0-dirty", "dev"} {
		if err := CheckVersion(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestCheckChangelog(t *testing.T) {
	f := filepath.Join(t.TempDir(), "CHANGELOG.md")
	if err := os.WriteFile(f, []byte("# Changelog\n\n## v1.2.0\n\n- x\n\n## v1.1.0 (2026-01-01)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1.2.0", "v1.1.0"} {
		if err := CheckChangelog(f, v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	if err := CheckChangelog(f, "v1.2"); err == nil || !strings.Contains(err.Error(), `add a "## v1.2" section`) {
		t.Errorf("v1.2 (a prefix of an entry): %v", err)
	}
}

// WritePackage and CheckPackage agree, and CheckPackage names the command
// that fixes a package edited by hand.
func TestPackageRoundTrip(t *testing.T) {
	dir := t.TempDir()
	pj := "{\n  \"packagingVersion\": \"4.0\",\n  \"name\": \"turnout\",\n  \"version\": \"0.1.0\",\n  \"x\": 1\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pj), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WritePackage(dir, "v0.2.0", DefaultBase); err != nil {
		t.Fatal(err)
	}
	if err := CheckPackage(dir, "v0.2.0", DefaultBase); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "package.json"))
	if want := strings.Replace(pj, "0.1.0", "0.2.0", 1); string(b) != want {
		t.Errorf("package.json:\n%s\nwant\n%s", b, want)
	}
	res, _ := os.ReadFile(filepath.Join(dir, "resource.json"))
	if !strings.Contains(string(res), DefaultBase+"/v0.2.0/turnout-0.2.0-linux-amd64.tar.gz") {
		t.Errorf("resource.json:\n%s", res)
	}
	err := CheckPackage(dir, "v0.3.0", DefaultBase)
	if err == nil || !strings.Contains(err.Error(), "make universe-package VERSION=v0.3.0") {
		t.Errorf("a stale package: %v", err)
	}
	if err := CheckPackage(dir, "v0.2.0", "https://example.com/releases"); err == nil {
		t.Error("resource.json for another base URL accepted")
	}
}
