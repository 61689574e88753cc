// Command release is `make release`'s helper (and `make universe-package`'s):
//
//	release check -version V [-base URL] [-changelog F] [-package DIR]
//	    the changelog has an entry for V and the Universe package is V's
//	release package -version V [-base URL] [-package DIR]
//	    writes the package's version and resource.json for V
//	release tar -o OUT.tar.gz -mtime EPOCH NAME=PATH[:MODE]...
//	    a reproducible tarball (sorted, 0:0, every mtime EPOCH)
//	release sums -dir DIST
//	    DIST/SHA256SUMS for every file in DIST
//	release image -o OUT.tar -version V [-revision COMMIT] -mtime EPOCH OS/ARCH=PATH...
//	    the container image as an OCI layout tar, one image per OS/ARCH,
//	    from a static binary or the release tarball holding it
//
// It is Go rather than shell so that the tarballs are the same bytes on
// Linux and macOS (GNU and BSD tar disagree on the flags that make them so).
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/turnout/turnout/internal/release"
)

const usage = "usage: release check|package|tar|sums|image [flags] (see scripts/release/main.go)"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	version := fs.String("version", "", "release version, vX.Y.Z")
	base := fs.String("base", "", "release download base URL (default "+release.DefaultBase+")")
	changelog := fs.String("changelog", "CHANGELOG.md", "changelog that must have an entry for -version")
	pkg := fs.String("package", "universe/packages/T/turnout/0", "Universe package directory")
	out := fs.String("o", "", "tarball or image to write")
	mtime := fs.Int64("mtime", 0, "mtime of every tarball entry and the image's time, seconds since 1970 (SOURCE_DATE_EPOCH)")
	dir := fs.String("dir", "", "directory to write SHA256SUMS for")
	revision := fs.String("revision", "", "the commit, for the image's revision label (none when empty)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *base == "" {
		*base = release.DefaultBase
	}
	switch args[0] {
	case "check":
		if err := release.CheckVersion(*version); err != nil {
			return err
		}
		if err := release.CheckChangelog(*changelog, *version); err != nil {
			return err
		}
		return release.CheckPackage(*pkg, *version, *base)
	case "package":
		if err := release.CheckVersion(*version); err != nil {
			return err
		}
		return release.WritePackage(*pkg, *version, *base)
	case "tar":
		if *out == "" || fs.NArg() == 0 {
			return fmt.Errorf("tar: want -o OUT.tar.gz and NAME=PATH[:MODE] arguments")
		}
		var files []release.File
		for _, a := range fs.Args() {
			name, path, ok := strings.Cut(a, "=")
			if !ok {
				return fmt.Errorf("tar: %q: want NAME=PATH[:MODE]", a)
			}
			mode := int64(0o644)
			if p, m, ok := strings.Cut(path, ":"); ok {
				n, err := strconv.ParseInt(m, 8, 64)
				if err != nil {
					return fmt.Errorf("tar: %q: mode: %w", a, err)
				}
				path, mode = p, n
			}
			files = append(files, release.File{Name: name, Path: path, Mode: mode})
		}
		return release.WriteTarball(*out, time.Unix(*mtime, 0), files)
	case "sums":
		if *dir == "" {
			return fmt.Errorf("sums: want -dir")
		}
		return release.WriteSums(*dir)
	case "image":
		if *out == "" || fs.NArg() == 0 {
			return fmt.Errorf("image: want -o OUT.tar and OS/ARCH=PATH arguments")
		}
		var platforms []release.ImagePlatform
		for _, a := range fs.Args() {
			p, path, ok := strings.Cut(a, "=")
			goos, goarch, ok2 := strings.Cut(p, "/")
			if !ok || !ok2 || goos == "" || goarch == "" || path == "" {
				return fmt.Errorf("image: %q: want OS/ARCH=PATH", a)
			}
			platforms = append(platforms, release.ImagePlatform{OS: goos, Arch: goarch, Binary: path})
		}
		return release.WriteImage(*out, *version, *revision, time.Unix(*mtime, 0), platforms)
	}
	return fmt.Errorf("%s", usage)
}
