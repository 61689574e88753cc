package universe

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// upstream holds byte-for-byte copies of the real Universe and Marathon
// files these tests check against (see testdata/README.md).
const upstream = "testdata/upstream"

// ourPackage is Turnout's Universe package, revision 0.
const ourPackage = pkgDir("packages/T/turnout/0")

// The real packages the renderer and the validators are tried on first:
// if they fail on Mesosphere's own packages, the tools are wrong, not ours.
var upstreamPackages = []pkgDir{
	upstream + "/universe/packages/marathon-lb/45",
	upstream + "/universe/packages/vamp/4",
	upstream + "/universe/tutorial/time-server/0",
}

const (
	marathon14 = upstream + "/marathon/v1.4.12/docs/docs/rest-api/public/api/v2/schema/AppDefinition.json"
	marathon16 = upstream + "/marathon/v1.6.590/docs/docs/rest-api/public/api/v2/schema/AppDefinition.json"
)

type schemaSet struct {
	pkg, resource, configMeta *jsonschema.Schema
	// apps are Marathon's AppDefinition schemas by version: 1.4 (DC/OS
	// 1.9-1.10, Docker networking) and 1.6 (DC/OS 1.11+, networks).
	apps map[string]*jsonschema.Schema
}

var loadSchemas = sync.OnceValues(func() (*schemaSet, error) {
	s := &schemaSet{apps: map[string]*jsonschema.Schema{}}
	for _, x := range []struct {
		dst  **jsonschema.Schema
		file string
	}{
		{&s.pkg, "package-schema.json"},
		{&s.resource, "v3-resource-schema.json"}, // packagingVersion 3.0 and 4.0
		{&s.configMeta, "config-schema.json"},
	} {
		doc, err := readJSONFile(filepath.Join(upstream, "universe/schema", x.file))
		if err != nil {
			return nil, err
		}
		if *x.dst, err = compileSchema("https://universe.test/schema/"+x.file, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", x.file, err)
		}
	}
	for version, file := range map[string]string{"1.4.12": marathon14, "1.6.590": marathon16} {
		doc, err := readJSONFile(file)
		if err != nil {
			return nil, err
		}
		// "$schema": "http://json-schema.org/schema#" meant draft 4 when
		// Marathon wrote these files (draft 4 was the latest until 2017);
		// read now, it would mean the latest draft, where "items": [...]
		// (Marathon's constraint triples) is no longer valid. The file is
		// kept as it is and the draft is fixed here.
		doc.(map[string]any)["$schema"] = "http://json-schema.org/draft-04/schema#"
		if s.apps[version], err = compileSchema("https://marathon.test/"+version+"/AppDefinition.json", doc); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return s, nil
})

func schemas(t *testing.T) *schemaSet {
	t.Helper()
	s, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readJSONFile(path string) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// validateApp checks a Marathon app definition against both versions of
// Marathon's schema.
func validateApp(t *testing.T, name string, app any) {
	t.Helper()
	for version, sch := range schemas(t).apps {
		if err := sch.Validate(app); err != nil {
			t.Errorf("%s is not a valid Marathon %s app:\n%s", name, version, schemaProblems(err))
		}
	}
}

// The validators accept what Marathon's own documentation posts.
func TestMarathonSchemaAcceptsMarathonsExamples(t *testing.T) {
	for _, version := range []string{"v1.4.12", "v1.6.590"} {
		file := upstream + "/marathon/" + version + "/docs/docs/rest-api/public/api/v2/examples/apps_create.json"
		doc, err := readJSONFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, app := range doc.([]any) {
			validateApp(t, fmt.Sprintf("%s[%d]", file, i), app)
		}
	}
	// And refuses what Marathon refuses: both cmd and args, a bad id.
	for _, bad := range []string{
		`{"id": "/a", "cmd": "sleep 1", "args": ["sleep", "1"]}`,
		`{"id": "/Upper_Case", "cmd": "sleep 1"}`,
		`{"id": "/a", "cmd": "sleep 1", "constraints": [["hostname", "SOMETIMES"]]}`,
	} {
		v, err := decodeJSON([]byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		for version, sch := range schemas(t).apps {
			if sch.Validate(v) == nil {
				t.Errorf("Marathon %s schema accepts %s", version, bad)
			}
		}
	}
}

// Every package (ours and Mesosphere's) passes what Universe's
// scripts/validate_packages.py checks: package.json, resource.json and
// config.json against the repository's draft-4 schemas, config.json also
// as a schema of its own, ASCII-only JSON without \u escapes (Cosmos 0.6.2
// and older read the files in the platform's encoding; DCOS-42473), and a
// template that parses.
func TestPackagesAreValidUniversePackages(t *testing.T) {
	s := schemas(t)
	for _, d := range append([]pkgDir{ourPackage}, upstreamPackages...) {
		t.Run(string(d), func(t *testing.T) {
			pkg, ok, err := d.readJSON("package.json")
			if err != nil || !ok {
				t.Fatalf("package.json: %v", err)
			}
			if err := s.pkg.Validate(pkg); err != nil {
				t.Errorf("package.json:\n%s", schemaProblems(err))
			}
			pv := pkg.(map[string]any)["packagingVersion"]
			if pv != "3.0" && pv != "4.0" {
				t.Fatalf("packagingVersion %v: these tests know only the v3 resource schema", pv)
			}
			if r, ok, err := d.readJSON("resource.json"); err != nil {
				t.Error(err)
			} else if ok {
				if err := s.resource.Validate(r); err != nil {
					t.Errorf("resource.json:\n%s", schemaProblems(err))
				}
			}
			if c, ok, err := d.readJSON("config.json"); err != nil {
				t.Error(err)
			} else if ok {
				if err := s.configMeta.Validate(c); err != nil {
					t.Errorf("config.json against the meta-schema:\n%s", schemaProblems(err))
				}
				if _, err := compileSchema("https://universe.test/check/config.json", c); err != nil {
					t.Errorf("config.json does not compile as a draft-4 schema: %v", err)
				}
			}
			for _, name := range []string{"package.json", "resource.json", "config.json", "marathon.json.mustache"} {
				data, err := d.read(name)
				if os.IsNotExist(err) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if i := bytes.IndexFunc(data, func(r rune) bool { return r > 0x7f }); i >= 0 {
					t.Errorf("%s: non-ASCII character at byte %d", name, i)
				}
				if strings.HasSuffix(name, ".json") && regexp.MustCompile(`\\u[0-9a-fA-F]{4}`).Match(data) {
					t.Errorf(`%s: \uXXXX escapes are refused by Universe`, name)
				}
			}
			tmpl, err := d.read("marathon.json.mustache")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseMustache(string(tmpl)); err != nil {
				t.Errorf("marathon.json.mustache: %v", err)
			}
		})
	}
}

// The package sits where a Universe repository expects it:
// packages/<LETTER>/<name>/<revision>/, with the name of package.json.
func TestPackageLayout(t *testing.T) {
	pkg, _, err := ourPackage.readJSON("package.json")
	if err != nil {
		t.Fatal(err)
	}
	name := pkg.(map[string]any)["name"].(string)
	parts := strings.Split(filepath.ToSlash(string(ourPackage)), "/")
	if len(parts) != 4 || parts[0] != "packages" {
		t.Fatalf("layout %s: want packages/<LETTER>/<name>/<revision>", ourPackage)
	}
	if parts[1] != strings.ToUpper(name[:1]) || parts[2] != name {
		t.Errorf("package %q lives in %s", name, ourPackage)
	}
	if _, err := strconv.Atoi(parts[3]); err != nil {
		t.Errorf("revision %q is not a number", parts[3])
	}
	entries, err := os.ReadDir(string(ourPackage))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "package.json", "config.json", "resource.json", "marathon.json.mustache":
		default:
			// command.json is refused for packagingVersion 4.0.
			t.Errorf("unexpected file %s in the package", e.Name())
		}
	}
}

// Each config.json field explains itself in the DC/OS UI's form: every
// section has a description and refuses unknown options, and every field
// has a default and a description.
func TestConfigFieldsHaveDefaultsAndDescriptions(t *testing.T) {
	config, _, err := ourPackage.readJSON("config.json")
	if err != nil {
		t.Fatal(err)
	}
	sections := config.(map[string]any)["properties"].(map[string]any)
	if len(sections) == 0 {
		t.Fatal("config.json has no sections")
	}
	for name, sec := range sections {
		sec := sec.(map[string]any)
		if sec["type"] != "object" || sec["description"] == nil || sec["additionalProperties"] != false {
			t.Errorf("section %s: want an object with a description and additionalProperties false", name)
		}
		for field, f := range sec["properties"].(map[string]any) {
			f := f.(map[string]any)
			if _, ok := f["default"]; !ok {
				t.Errorf("%s.%s has no default", name, field)
			}
			if d, _ := f["description"].(string); len(d) < 20 {
				t.Errorf("%s.%s has no real description", name, field)
			}
		}
	}
}

// The copies of upstream files are the files: testdata/upstream.sha256
// pins them, and where the project's shared test data is at hand (a
// developer's machine, not CI) each is compared with its original.
func TestUpstreamCopiesUnchanged(t *testing.T) {
	list, err := os.ReadFile("testdata/upstream.sha256")
	if err != nil {
		t.Fatal(err)
	}
	const shared = "../../shared/testdata"
	_, err = os.Stat(shared)
	haveShared := err == nil
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("upstream.sha256: bad line %q", line)
		}
		listed[name] = true
		data, err := os.ReadFile(filepath.Join(upstream, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != sum {
			t.Errorf("%s has changed: sha256 %s, want %s", name, got, sum)
		}
		if haveShared {
			orig, err := os.ReadFile(filepath.Join(shared, name))
			if err != nil || !bytes.Equal(orig, data) {
				t.Errorf("%s differs from %s/%s (%v)", name, shared, name, err)
			}
		}
	}
	filepath.WalkDir(upstream, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(upstream, path)
			if !listed[filepath.ToSlash(rel)] {
				t.Errorf("%s is not listed in testdata/upstream.sha256", path)
			}
		}
		return nil
	})
}
