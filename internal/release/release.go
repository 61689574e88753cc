// Package release builds what `make release` publishes the same way every
// time: tarballs with fixed owners and times, SHA256SUMS, and the Universe
// package's version and resource.json, which are generated from the
// release version instead of being edited by hand.
package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DefaultBase is where the GitHub releases live: the tarballs of version
// vX.Y.Z are at DefaultBase/vX.Y.Z/.
const DefaultBase = "https://github.com/turnout/turnout/releases/download"

// imageBase is where the package's icons are served from (universe/images).
const imageBase = "https://raw.githubusercontent.com/turnout/turnout/main/universe/images"

var versionRE = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// CheckVersion accepts vX.Y.Z, with an optional -suffix.
func CheckVersion(version string) error {
	if !versionRE.MatchString(version) {
		return fmt.Errorf("version %q: want vX.Y.Z (a semantic version with its v)", version)
	}
	return nil
}

// File is one entry of a tarball: its name in the archive and where it is.
type File struct {
	Name, Path string
	Mode       int64
}

// WriteTarball writes a gzipped tar of files, sorted by name, owned by 0:0
// with no owner names, every mtime set to mtime and no gzip name or time:
// the same inputs give the same bytes.
func WriteTarball(out string, mtime time.Time, files []File) error {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return fmt.Errorf("tarball %s: %w", out, err)
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.Name, Size: int64(len(b)), Mode: f.Mode,
			ModTime: mtime.UTC().Truncate(time.Second), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tarball %s: %s: %w", out, f.Name, err)
		}
		if _, err := tw.Write(b); err != nil {
			return fmt.Errorf("tarball %s: %s: %w", out, f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("tarball %s: %w", out, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("tarball %s: %w", out, err)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// WriteSums writes dir/SHA256SUMS for every other file in dir, sorted by
// name, in sha256sum's format (so `sha256sum -c SHA256SUMS` checks it).
func WriteSums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sha256sums: %w", err)
	}
	var b strings.Builder
	for _, e := range entries { // ReadDir sorts by name
		if !e.Type().IsRegular() || e.Name() == "SHA256SUMS" {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("sha256sums: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("sha256sums: %s: %w", e.Name(), err)
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), e.Name())
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}

// CheckChangelog fails unless the changelog has a "## VERSION" heading.
func CheckChangelog(path, version string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("changelog: %w", err)
	}
	re := regexp.MustCompile(`(?m)^## ` + regexp.QuoteMeta(version) + `(\s|$)`)
	if !re.Match(b) {
		return fmt.Errorf("%s has no entry for %s: add a \"## %s\" section saying what changed", path, version, version)
	}
	return nil
}

// Resource is resource.json for version: the release's linux tarballs and
// SHA256SUMS under base/VERSION/, the image of the same version, the icons.
// Its checksums are in that SHA256SUMS: the Universe resource schema has no
// place for an asset's hash (only for a DC/OS CLI's).
func Resource(version, base string) []byte {
	v := strings.TrimPrefix(version, "v")
	dl := strings.TrimSuffix(base, "/") + "/" + version + "/"
	return fmt.Appendf(nil, `{
  "assets": {
    "uris": {
      "turnout-linux-amd64": "%[1]sturnout-%[2]s-linux-amd64.tar.gz",
      "turnout-linux-arm64": "%[1]sturnout-%[2]s-linux-arm64.tar.gz",
      "turnout-sha256sums": "%[1]sSHA256SUMS"
    },
    "container": {
      "docker": {
        "turnout-docker": "turnout/turnout:%[2]s"
      }
    }
  },
  "images": {
    "icon-small": "%[3]s/icon-small.png",
    "icon-medium": "%[3]s/icon-medium.png",
    "icon-large": "%[3]s/icon-large.png"
  }
}
`, dl, v, imageBase)
}

var packageVersionRE = regexp.MustCompile(`(?m)^  "version": "([^"]*)"`)

// PackageVersion reads package.json's version (X.Y.Z, without the v).
func PackageVersion(packageJSON []byte) (string, error) {
	m := packageVersionRE.FindSubmatch(packageJSON)
	if m == nil {
		return "", fmt.Errorf("package.json: no top-level \"version\" line")
	}
	return string(m[1]), nil
}

// WritePackage sets package.json's version and writes resource.json in
// the package directory dir, for version and base.
func WritePackage(dir, version, base string) error {
	pj := filepath.Join(dir, "package.json")
	b, err := os.ReadFile(pj)
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	if _, err := PackageVersion(b); err != nil {
		return err
	}
	b = packageVersionRE.ReplaceAll(b, []byte(`  "version": "`+strings.TrimPrefix(version, "v")+`"`))
	if err := os.WriteFile(pj, b, 0o644); err != nil {
		return fmt.Errorf("package: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "resource.json"), Resource(version, base), 0o644)
}

// CheckPackage fails unless package.json's version is version and
// resource.json is what WritePackage writes, saying how to regenerate them.
func CheckPackage(dir, version, base string) error {
	fix := fmt.Sprintf("run `make universe-package VERSION=%s` (the package is generated, not edited by hand)", version)
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	v, err := PackageVersion(b)
	if err != nil {
		return err
	}
	if v != strings.TrimPrefix(version, "v") {
		return fmt.Errorf("%s/package.json has version %s, not %s: %s", dir, v, version, fix)
	}
	res, err := os.ReadFile(filepath.Join(dir, "resource.json"))
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	if !bytes.Equal(res, Resource(version, base)) {
		return fmt.Errorf("%s/resource.json is not the one for %s and %s: %s", dir, version, base, fix)
	}
	return nil
}
