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
//	release repo -dist DIST -o DIR -url URL [-package DIR] [-images DIR]
//	    DIR: a Universe repository (index DIR/repo) of the package with
//	    DIST's assets, every URL under URL, where DIR is to be served
//	release serve -dir DIR [-addr HOST:PORT]
//	    serves a repository folder (the index with Cosmos's media type)
//
// It is Go rather than shell so that the tarballs are the same bytes on
// Linux and macOS (GNU and BSD tar disagree on the flags that make them so).
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/turnout/turnout/internal/release"
)

const usage = "usage: release check|package|tar|sums|image|repo|serve [flags] (see scripts/release/main.go)"

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
	out := fs.String("o", "", "tarball, image or repository folder to write")
	mtime := fs.Int64("mtime", 0, "mtime of every tarball entry and the image's time, seconds since 1970 (SOURCE_DATE_EPOCH)")
	dir := fs.String("dir", "", "directory to write SHA256SUMS for (sums), or to serve (serve)")
	revision := fs.String("revision", "", "the commit, for the image's revision label (none when empty)")
	dist := fs.String("dist", "dist", "make release's output (repo)")
	images := fs.String("images", "universe/images", "the package's icons (repo)")
	repoURL := fs.String("url", "", "where the repository folder is served, http://HOST[:PORT][/PATH] (repo)")
	addr := fs.String("addr", "127.0.0.1:8085", "address to serve on (serve)")
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
	case "repo":
		if *out == "" {
			return fmt.Errorf("repo: want -o DIR")
		}
		files, err := release.WriteRepo(release.RepoOptions{Package: *pkg, Images: *images, Dist: *dist, Out: *out, URL: *repoURL})
		if err != nil {
			return err
		}
		for _, f := range files {
			fmt.Printf("%s  %10d  %s\n", f.SHA256, f.Size, f.Name)
		}
		fmt.Printf("add it with: dcos package repo add --index=0 turnout-local %s/%s\n", strings.TrimSuffix(*repoURL, "/"), release.RepoIndex)
		return nil
	case "serve":
		if *dir == "" {
			return fmt.Errorf("serve: want -dir")
		}
		fmt.Printf("serving %s on http://%s/ (index: /%s)\n", *dir, *addr, release.RepoIndex)
		return http.ListenAndServe(*addr, release.RepoHandler(*dir))
	}
	return fmt.Errorf("%s", usage)
}
