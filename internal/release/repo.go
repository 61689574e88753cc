package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A local Universe repository: the JSON index Cosmos reads when an operator
// runs `dcos package repo add NAME URL`, written next to the release assets
// it points at, so that one static HTTP server serves the whole of it to an
// air-gapped cluster.

// RepoIndex is the index's file name in the repository folder. It has no
// extension so that a static server can give it, and nothing else, the
// Universe media type (RepoMediaType).
const RepoIndex = "repo"

// RepoMediaType is the Content-Type Cosmos requires of a repository index:
// it decodes the body by this type and refuses any other
// (UnsupportedContentType), application/json included. Version 4 is read
// by DC/OS 1.10 and every later release (which also ask for v5 first).
const RepoMediaType = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4"

// RepoOptions says what WriteRepo reads and writes.
type RepoOptions struct {
	Package string // the package revision, packages/T/NAME/REVISION
	Images  string // the folder holding the icons resource.json names
	Dist    string // make release's output: the assets and SHA256SUMS
	Out     string // the repository folder to write (emptied first)
	URL     string // where Out is served: http(s)://HOST[:PORT][/PATH]
}

// RepoFile is one file of a written repository, with its size and SHA-256.
type RepoFile struct {
	Name   string
	Size   int64
	SHA256 string
}

// WriteRepo writes o.Out: every release asset of o.Dist (checked against
// its SHA256SUMS first), the icons, and the index, whose one package is
// o.Package with every URL of its resource.json rewritten to o.URL. The
// container image reference is kept as it is: the image is loaded into the
// cluster's registry, not served from here.
func WriteRepo(o RepoOptions) ([]RepoFile, error) {
	base, err := checkBaseURL(o.URL)
	if err != nil {
		return nil, err
	}
	revision, err := strconv.Atoi(filepath.Base(o.Package))
	if err != nil || revision < 0 {
		return nil, fmt.Errorf("package %s: the folder's name is not a revision number", o.Package)
	}
	entry, err := readJSONObject(filepath.Join(o.Package, "package.json"))
	if err != nil {
		return nil, err
	}
	config, err := readJSONObject(filepath.Join(o.Package, "config.json"))
	if err != nil {
		return nil, err
	}
	resource, err := readJSONObject(filepath.Join(o.Package, "resource.json"))
	if err != nil {
		return nil, err
	}
	tmpl, err := os.ReadFile(filepath.Join(o.Package, "marathon.json.mustache"))
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	sums, err := checkDist(o.Dist)
	if err != nil {
		return nil, err
	}

	// The files to serve: the assets, then the icons; resource.json's URLs
	// are rewritten to them as they are found.
	files := map[string]string{} // name in Out -> source path
	for name := range sums {
		files[name] = filepath.Join(o.Dist, name)
	}
	files["SHA256SUMS"] = filepath.Join(o.Dist, "SHA256SUMS")
	version, _ := entry["version"].(string)
	if err := rewriteURLs(resource, "assets", "uris", func(alias, u string) (string, error) {
		name := path.Base(u)
		if _, ok := files[name]; !ok {
			return "", fmt.Errorf("resource.json's %s is %s, which %s does not hold: run `make release VERSION=v%s` first", alias, name, o.Dist, version)
		}
		return base + name, nil
	}); err != nil {
		return nil, err
	}
	if err := rewriteURLs(resource, "images", "", func(alias, u string) (string, error) {
		name := path.Base(u)
		src := filepath.Join(o.Images, name)
		if _, err := os.Stat(src); err != nil {
			return "", fmt.Errorf("resource.json's %s: %w", alias, err)
		}
		if _, ok := files[name]; ok {
			return "", fmt.Errorf("resource.json's %s: %s is also a release asset", alias, name)
		}
		files[name] = src
		return base + name, nil
	}); err != nil {
		return nil, err
	}

	// The index: package.json as it is, plus what Universe's own
	// gen_universe.py adds for a repository of version 4.
	entry["releaseVersion"] = revision
	entry["marathon"] = map[string]any{"v2AppMustacheTemplate": base64.StdEncoding.EncodeToString(tmpl)}
	entry["resource"] = resource
	entry["config"] = config
	index, err := json.MarshalIndent(map[string]any{"packages": []any{entry}}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("repository index: %w", err)
	}
	index = append(index, '\n')

	if err := os.RemoveAll(o.Out); err != nil {
		return nil, fmt.Errorf("repository: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("repository: %w", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []RepoFile
	for _, name := range names {
		if err := linkOrCopy(files[name], filepath.Join(o.Out, name)); err != nil {
			return nil, fmt.Errorf("repository: %s: %w", name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(o.Out, RepoIndex), index, 0o644); err != nil {
		return nil, fmt.Errorf("repository: %w", err)
	}
	for _, name := range append(names, RepoIndex) {
		f, err := hashFile(filepath.Join(o.Out, name))
		if err != nil {
			return nil, fmt.Errorf("repository: %w", err)
		}
		f.Name = name
		if want, ok := sums[name]; ok && f.SHA256 != want {
			return nil, fmt.Errorf("repository: %s changed while it was copied", name)
		}
		out = append(out, f)
	}
	return out, nil
}

// checkBaseURL returns u with one trailing slash, or why it cannot be the
// base of the assets' URLs (the Mesos fetcher needs absolute http(s) URLs).
func checkBaseURL(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" {
		return "", fmt.Errorf("repository URL %q: want http://HOST[:PORT][/PATH], where the repository folder is served", u)
	}
	return strings.TrimSuffix(u, "/") + "/", nil
}

// checkDist reads dir/SHA256SUMS and checks that it lists every file of dir
// and that each has its SHA-256: the repository serves what was released.
func checkDist(dir string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return nil, fmt.Errorf("release assets: %w (run make release first)", err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || name == "" || strings.ContainsAny(name, "/\\") {
			return nil, fmt.Errorf("%s/SHA256SUMS line %d: want HASH  NAME", dir, n)
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s/SHA256SUMS: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("release assets: %w", err)
	}
	present := map[string]bool{}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == "SHA256SUMS" {
			continue // the repository folder itself, for one
		}
		present[e.Name()] = true
		if _, ok := sums[e.Name()]; !ok {
			return nil, fmt.Errorf("%s/%s is not in SHA256SUMS: rebuild the release (make release) or remove it", dir, e.Name())
		}
	}
	for name, want := range sums {
		if !present[name] {
			return nil, fmt.Errorf("%s/SHA256SUMS lists %s, which is missing", dir, name)
		}
		got, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if got.SHA256 != want {
			return nil, fmt.Errorf("%s/%s does not match SHA256SUMS (sha256 %s, listed %s)", dir, name, got.SHA256, want)
		}
	}
	return sums, nil
}

// rewriteURLs replaces each string under obj[key][sub] (obj[key] when sub
// is empty) by what fn returns for it.
func rewriteURLs(obj map[string]any, key, sub string, fn func(alias, u string) (string, error)) error {
	m, _ := obj[key].(map[string]any)
	if sub != "" {
		m, _ = m[sub].(map[string]any)
	}
	for alias, v := range m {
		u, ok := v.(string)
		if !ok {
			continue // screenshots, a list, are not used by this package
		}
		nu, err := fn(alias, u)
		if err != nil {
			return err
		}
		m[alias] = nu
	}
	return nil
}

func readJSONObject(file string) (map[string]any, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // lastUpdated and the like stay as written
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

func hashFile(file string) (RepoFile, error) {
	f, err := os.Open(file)
	if err != nil {
		return RepoFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return RepoFile{}, fmt.Errorf("%s: %w", file, err)
	}
	return RepoFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// linkOrCopy hard-links src to dst (an OCI image tarball is large), or
// copies it where a link cannot be made (another file system).
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// RepoHandler serves a repository folder as any static server would, but
// for the index, which it serves with RepoMediaType, as Cosmos requires.
// Nothing else is listed or served: no directory listings.
func RepoHandler(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		if path.Base(r.URL.Path) == RepoIndex {
			w.Header().Set("Content-Type", RepoMediaType)
		}
		files.ServeHTTP(w, r)
	})
}
