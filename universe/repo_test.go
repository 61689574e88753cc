package universe

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/turnout/turnout/internal/release"
)

// What Cosmos sends for a repository (DefaultUniverseClient): the media
// types it decodes, newest first.
const cosmosAccept = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5," +
	"application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4," +
	"application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3"

// cosmosDecodes is the repository version Cosmos decodes a response of
// this Content-Type as, or "" where it answers UnsupportedContentType
// (a static server's application/json, for one).
func cosmosDecodes(contentType string) string {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/vnd.dcos.universe.repo+json" {
		return ""
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return ""
	}
	switch v := params["version"]; v {
	case "v3", "v4", "v5":
		return v
	}
	return ""
}

func TestCosmosDecodes(t *testing.T) {
	for ct, want := range map[string]string{
		release.RepoMediaType: "v4",
		"application/vnd.dcos.universe.repo+json; charset=utf-8; version=v5": "v5",
		"application/json":                                                 "",
		"text/plain; charset=utf-8":                                        "",
		"application/octet-stream":                                         "",
		"application/vnd.dcos.universe.repo+json":                          "",
		"application/vnd.dcos.universe.repo+json;charset=utf-8;version=v2": "",
	} {
		if got := cosmosDecodes(ct); got != want {
			t.Errorf("cosmosDecodes(%q) = %q, want %q", ct, got, want)
		}
	}
}

// repoSchemas compiles Universe's repository schemas (v4 and v5), which
// $ref the definitions file beside them.
func repoSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	const base = "https://universe.test/repo/"
	for _, f := range []string{"v4-repo-schema.json", "v5-repo-schema.json", "vX-repo-definitions.json"} {
		doc, err := readJSONFile(filepath.Join(upstream, "universe/schema", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(base+f, doc); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, v := range []string{"v4", "v5"} {
		s, err := c.Compile(base + v + "-repo-schema.json")
		if err != nil {
			t.Fatalf("%s repository schema: %v", v, err)
		}
		out[v] = s
	}
	return out
}

// TestUniverseRepository checks the local Universe repository of
// `make universe-repo` the way a cluster uses it: the folder is served on
// 127.0.0.1 by release.RepoHandler (what `bin/release serve` runs), the
// index is fetched as Cosmos fetches it and validated against Universe's
// repository schemas, the package in it is rendered as Cosmos renders it
// (defaults, and options/full.json with its URLs pointed at this server),
// and every URL the package and the rendered apps name is downloaded from
// the server and checked against the release's SHA256SUMS, as is every
// file SHA256SUMS lists (the SBOMs, and the OCI image tarball of
// `make image` where there is one: the package names no OCI tarball, only
// the image reference, so its absence is no failure).
//
// The assets are `make release`'s for this package's version, built here
// for linux/amd64 and linux/arm64 (the tarballs the package names), unless
// UNIVERSE_TEST_DIST names a folder a release was made into, such as the
// dist/ of `make release VERSION=vX.Y.Z && make image && make universe-repo`:
//
//	UNIVERSE_TEST_DIST=$PWD/dist go test -count=1 -run TestUniverseRepository ./universe
func TestUniverseRepository(t *testing.T) {
	needMake(t, "builds a release")
	version := packageVersion(t)
	dist := os.Getenv("UNIVERSE_TEST_DIST")
	if dist == "" {
		dist = t.TempDir()
		mk := exec.Command("make", "-C", "..", "release", "DIST="+dist, "RELEASE_PLATFORMS=linux/amd64 linux/arm64", "VERSION=v"+version)
		if out, err := mk.CombinedOutput(); err != nil {
			t.Fatalf("make release: %v\n%s", err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dist, "turnout-"+version+"-oci.tar")); err == nil {
		t.Logf("%s holds the OCI image tarball: it is served and checked too", dist)
	} else {
		t.Logf("%s holds no OCI image tarball (make image): the package names none", dist)
	}

	// One folder per version under one server, as the docs suggest.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/turnout/" + version
	baseURL := "http://" + ln.Addr().String() + prefix
	out := filepath.Join(t.TempDir(), "universe")
	mk := exec.Command("make", "-C", "..", "universe-repo", "DIST="+dist, "UNIVERSE_DIR="+out, "UNIVERSE_URL="+baseURL)
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make universe-repo: %v\n%s", err, b)
	}
	srv := &http.Server{Handler: http.StripPrefix(prefix, release.RepoHandler(out))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// Cosmos's request, and its reading of the answer.
	req, _ := http.NewRequest("GET", baseURL+"/"+release.RepoIndex, nil)
	req.Header.Set("Accept", cosmosAccept)
	req.Header.Set("User-Agent", "dcos/1.12.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the index: %d %s", resp.StatusCode, body)
	}
	if v := cosmosDecodes(resp.Header.Get("Content-Type")); v != "v4" {
		t.Fatalf("the index is served as %q: Cosmos would refuse it (UnsupportedContentType)", resp.Header.Get("Content-Type"))
	}
	index, err := decodeJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	for v, sch := range repoSchemas(t) {
		if err := sch.Validate(index); err != nil {
			t.Errorf("the index is not a valid %s repository:\n%s", v, schemaProblems(err))
		}
	}
	pkgs := index.(map[string]any)["packages"].([]any)
	if len(pkgs) != 1 {
		t.Fatalf("%d packages in the index, want 1", len(pkgs))
	}
	entry := pkgs[0].(map[string]any)
	if entry["name"] != "turnout" || entry["version"] != version || entry["releaseVersion"] != jsonInt(0) {
		t.Errorf("package %v %v revision %v, want turnout %s revision 0", entry["name"], entry["version"], entry["releaseVersion"], version)
	}

	// The package as Cosmos holds it: back into its four files.
	served := pkgDir(filepath.Join(t.TempDir(), "packages/T/turnout/0"))
	if err := os.MkdirAll(string(served), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl, err := base64.StdEncoding.DecodeString(entry["marathon"].(map[string]any)["v2AppMustacheTemplate"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := ourPackage.read("marathon.json.mustache"); !bytes.Equal(tmpl, want) {
		t.Error("the index's template is not the package's")
	}
	writeFile(t, filepath.Join(string(served), "marathon.json.mustache"), string(tmpl))
	pkgOnly := map[string]any{}
	for k, v := range entry {
		switch k {
		case "releaseVersion", "marathon", "resource", "config":
		default:
			pkgOnly[k] = v
		}
	}
	if want, _, _ := ourPackage.readJSON("package.json"); !reflect.DeepEqual(pkgOnly, want) {
		t.Errorf("the index's package.json fields differ from the package's")
	}
	if want, _, _ := ourPackage.readJSON("config.json"); !reflect.DeepEqual(entry["config"], want) {
		t.Errorf("the index's config differs from the package's config.json")
	}
	for name, v := range map[string]any{"package.json": pkgOnly, "config.json": entry["config"], "resource.json": entry["resource"]} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(string(served), name), string(b))
	}

	resource := entry["resource"].(map[string]any)
	uris := resource["assets"].(map[string]any)["uris"].(map[string]any)
	ourRes, _, _ := ourPackage.readJSON("resource.json")
	if got, want := resource["assets"].(map[string]any)["container"], ourRes.(map[string]any)["assets"].(map[string]any)["container"]; !reflect.DeepEqual(got, want) {
		t.Errorf("the image reference changed: %v, want %v (it is loaded into the cluster's registry, not served)", got, want)
	}

	// Every download, checked against the SHA256SUMS the server serves
	// (itself the release's).
	sums := map[string]string{}
	sumsBody := download(t, uris["turnout-sha256sums"].(string))
	if want, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS")); !bytes.Equal(sumsBody, want) {
		t.Fatal("the served SHA256SUMS is not the release's")
	}
	sc := bufio.NewScanner(bytes.NewReader(sumsBody))
	for sc.Scan() {
		sum, name, _ := strings.Cut(sc.Text(), "  ")
		sums[name] = sum
	}
	checked := map[string]bool{}
	checkAsset := func(what, u string) {
		t.Helper()
		if !strings.HasPrefix(u, baseURL+"/") {
			t.Errorf("%s is %s, not on this repository's server %s", what, u, baseURL)
			return
		}
		name := path.Base(u)
		b := download(t, u)
		sum := sha256.Sum256(b)
		if want, ok := sums[name]; ok {
			if hex.EncodeToString(sum[:]) != want {
				t.Errorf("%s (%s): sha256 %x, SHA256SUMS says %s", what, u, sum, want)
			}
		} else if name != "SHA256SUMS" {
			t.Errorf("%s (%s) is not in SHA256SUMS", what, u)
		}
		checked[name] = true
	}
	for alias, u := range uris {
		checkAsset("resource.json's "+alias, u.(string))
	}
	for alias, u := range resource["images"].(map[string]any) {
		u := u.(string)
		b := download(t, u)
		if want, err := os.ReadFile(filepath.Join("images", path.Base(u))); err != nil || !bytes.Equal(b, want) {
			t.Errorf("resource.json's %s (%s) is not universe/images/%s (%v)", alias, u, path.Base(u), err)
		}
	}
	for name := range sums {
		checkAsset("SHA256SUMS's "+name, baseURL+"/"+name)
	}
	for _, a := range []string{"linux-amd64", "linux-arm64"} {
		if !checked["turnout-"+version+"-"+a+".tar.gz"] {
			t.Errorf("the repository does not name the %s tarball", a)
		}
	}

	// Rendered as Cosmos renders it: every fetched URL is this server's.
	full, err := readJSONFile("testdata/options/full.json")
	if err != nil {
		t.Fatal(err)
	}
	fullHere := deepMerge(full.(map[string]any), map[string]any{
		"service": map[string]any{"binary_url": uris["turnout-linux-arm64"]},
		"plugins": map[string]any{"archive_url": ""},
	})
	mlb := marathonLBPorts(t)
	for name, opts := range map[string]map[string]any{"defaults": nil, "full options": fullHere} {
		_, app, err := served.render(opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkApp(t, "the served package with "+name, app, mlb)
		for _, f := range app["fetch"].([]any) {
			checkAsset(name+": fetch", f.(map[string]any)["uri"].(string))
		}
	}

	// The index lists nothing that is not served, and a folder is not
	// listed.
	if s := status(baseURL+"/", ""); s != http.StatusNotFound {
		t.Errorf("GET the folder: %d, want 404 (no listing)", s)
	}
}

func download(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return b
}
