package release

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRelease is a package revision (0), its icons and a DIST with the
// files resource.json names, as small stand-ins, and their SHA256SUMS.
func fakeRelease(t *testing.T) (pkg, images, dist string) {
	t.Helper()
	root := t.TempDir()
	pkg = filepath.Join(root, "packages/T/turnout/0")
	images = filepath.Join(root, "images")
	dist = filepath.Join(root, "dist")
	for _, d := range []string{pkg, images, dist} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(pkg, "package.json"), "{\n  \"packagingVersion\": \"4.0\",\n  \"name\": \"turnout\",\n  \"version\": \"0.2.0\",\n  \"lastUpdated\": 1795676756\n}\n")
	write(filepath.Join(pkg, "config.json"), `{"type": "object"}`)
	write(filepath.Join(pkg, "marathon.json.mustache"), `{"id": "/turnout"}`)
	write(filepath.Join(pkg, "resource.json"), string(Resource("v0.2.0", DefaultBase)))
	for _, s := range []string{"small", "medium", "large"} {
		write(filepath.Join(images, "icon-"+s+".png"), s)
	}
	for _, a := range []string{"linux-amd64", "linux-arm64", "darwin-arm64"} {
		write(filepath.Join(dist, "turnout-0.2.0-"+a+".tar.gz"), a)
	}
	if err := WriteSums(dist); err != nil {
		t.Fatal(err)
	}
	return pkg, images, dist
}

func TestWriteRepo(t *testing.T) {
	pkg, images, dist := fakeRelease(t)
	out := filepath.Join(dist, "universe")
	files, err := WriteRepo(RepoOptions{Package: pkg, Images: images, Dist: dist, Out: out, URL: "http://10.0.0.5:8085/turnout/"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	want := "SHA256SUMS icon-large.png icon-medium.png icon-small.png turnout-0.2.0-darwin-arm64.tar.gz turnout-0.2.0-linux-amd64.tar.gz turnout-0.2.0-linux-arm64.tar.gz repo"
	if strings.Join(names, " ") != want {
		t.Errorf("files %v, want %s", names, want)
	}
	b, err := os.ReadFile(filepath.Join(out, RepoIndex))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Packages []struct {
			Version        string          `json:"version"`
			ReleaseVersion int             `json:"releaseVersion"`
			LastUpdated    json.RawMessage `json:"lastUpdated"`
			Marathon       struct {
				Template []byte `json:"v2AppMustacheTemplate"`
			} `json:"marathon"`
			Resource struct {
				Assets struct {
					URIs      map[string]string            `json:"uris"`
					Container map[string]map[string]string `json:"container"`
				} `json:"assets"`
				Images map[string]string `json:"images"`
			} `json:"resource"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatal(err)
	}
	p := index.Packages[0]
	if p.Version != "0.2.0" || p.ReleaseVersion != 0 || string(p.LastUpdated) != "1795676756" || string(p.Marathon.Template) != `{"id": "/turnout"}` {
		t.Errorf("index entry %+v", p)
	}
	if u := p.Resource.Assets.URIs["turnout-linux-arm64"]; u != "http://10.0.0.5:8085/turnout/turnout-0.2.0-linux-arm64.tar.gz" {
		t.Errorf("linux-arm64 at %s", u)
	}
	if u := p.Resource.Images["icon-small"]; u != "http://10.0.0.5:8085/turnout/icon-small.png" {
		t.Errorf("icon-small at %s", u)
	}
	if img := p.Resource.Assets.Container["docker"]["turnout-docker"]; img != "turnout/turnout:0.2.0" {
		t.Errorf("image %s", img)
	}

	// Served: the index with Cosmos's media type, the assets as they are,
	// no listing.
	srv := httptest.NewServer(RepoHandler(out))
	defer srv.Close()
	for path, want := range map[string]string{
		"/repo":                             RepoMediaType,
		"/turnout-0.2.0-linux-amd64.tar.gz": "application/gzip",
		"/":                                 "404",
		"/nothing":                          "404",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Content-Type")
		if resp.StatusCode == http.StatusNotFound {
			got = "404"
		}
		if got != want {
			t.Errorf("GET %s: %s, want %s", path, got, want)
		}
	}
}

// WriteRepo refuses to write a repository that would not serve what was
// released, or that the fetcher could not reach.
func TestWriteRepoRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(t *testing.T, pkg, dist string)
		url  string
		want string
	}{
		"relative URL": {url: "universe.example:8085", want: "want http://HOST"},
		"query in URL": {url: "http://u.example/?x=1", want: "want http://HOST"},
		"unlisted file": {edit: func(t *testing.T, _, dist string) {
			os.WriteFile(filepath.Join(dist, "turnout-0.2.0-oci.tar"), []byte("x"), 0o644)
		}, want: "turnout-0.2.0-oci.tar is not in SHA256SUMS"},
		"changed file": {edit: func(t *testing.T, _, dist string) {
			os.WriteFile(filepath.Join(dist, "turnout-0.2.0-linux-amd64.tar.gz"), []byte("other"), 0o644)
		}, want: "does not match SHA256SUMS"},
		"missing tarball": {edit: func(t *testing.T, _, dist string) {
			os.Remove(filepath.Join(dist, "turnout-0.2.0-linux-arm64.tar.gz"))
			if err := WriteSums(dist); err != nil {
				t.Fatal(err)
			}
		}, want: "run `make release VERSION=v0.2.0` first"},
		"no release": {edit: func(t *testing.T, _, dist string) {
			os.Remove(filepath.Join(dist, "SHA256SUMS"))
		}, want: "run make release first"},
	} {
		t.Run(name, func(t *testing.T) {
			pkg, images, dist := fakeRelease(t)
			if c.edit != nil {
				c.edit(t, pkg, dist)
			}
			u := c.url
			if u == "" {
				u = "http://127.0.0.1:8085"
			}
			out := filepath.Join(t.TempDir(), "universe")
			_, err := WriteRepo(RepoOptions{Package: pkg, Images: images, Dist: dist, Out: out, URL: u})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a refused repository was written")
			}
		})
	}
}
