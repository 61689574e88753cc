package universe

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/release"
)

// Where Turnout keeps its store on DC/OS: in ZooKeeper (TURNOUT_STORE),
// shared by every task, or on a Marathon local persistent volume
// (TURNOUT_DATA_DIR on the volume), which outlives the task. Never in the
// sandbox alone: a replaced task would start with no gateways.

// checkStore holds every rendering to exactly one of the two stores, and a
// volume to what Marathon demands of a resident app.
func checkStore(t *testing.T, name string, app map[string]any) {
	t.Helper()
	env := app["env"].(map[string]any)
	zk, hasZK := env["TURNOUT_STORE"].(string)
	dir, hasDir := env["TURNOUT_DATA_DIR"].(string)
	switch {
	case hasZK && hasDir:
		t.Errorf("%s: both TURNOUT_STORE and TURNOUT_DATA_DIR", name)
	case hasZK:
		if !strings.HasPrefix(zk, "zk://") || !strings.Contains(strings.TrimPrefix(zk, "zk://"), "/") {
			t.Errorf("%s: TURNOUT_STORE %q, want zk://SERVERS/PATH", name, zk)
		}
		if _, ok := app["container"]; ok {
			t.Errorf("%s: a container with the ZooKeeper store; the package runs the fetched binary", name)
		}
		if _, ok := app["residency"]; ok {
			t.Errorf("%s: residency without a persistent volume", name)
		}
	case hasDir:
		vols := persistentVolumes(app)
		if len(vols) != 1 || vols[0]["containerPath"] != dir {
			t.Errorf("%s: TURNOUT_DATA_DIR %q is not the app's one persistent volume %v: the store would be in the sandbox", name, dir, vols)
		}
		if app["instances"] != jsonInt(1) {
			t.Errorf("%s: %v tasks, each with a store of its own", name, app["instances"])
		}
		for _, p := range residentProblems(app) {
			t.Errorf("%s: %s", name, p)
		}
	default:
		t.Errorf("%s: no store: neither TURNOUT_STORE nor TURNOUT_DATA_DIR", name)
	}
}

func persistentVolumes(app map[string]any) []map[string]any {
	c, _ := app["container"].(map[string]any)
	vols, _ := c["volumes"].([]any)
	var out []map[string]any
	for _, v := range vols {
		if v, ok := v.(map[string]any); ok && v["persistent"] != nil {
			out = append(out, v)
		}
	}
	return out
}

// residentProblems is what Marathon refuses in an app with local
// persistent volumes (a resident app), beyond its JSON schema:
// AppDefinition's complyWithResidencyRules and validForResidentTasks,
// ResourceRole.validAcceptedResourceRoles(isResident) and the Mesos
// containerizer's rule for a persistent volume's containerPath (Marathon
// 1.4-1.6 sources). The fetched binary needs no image, so the container
// must be MESOS without one.
func residentProblems(app map[string]any) []string {
	var out []string
	vols := persistentVolumes(app)
	if (len(vols) > 0) != (app["residency"] != nil) {
		out = append(out, "persistent volumes and residency go together")
	}
	if len(vols) == 0 {
		return out
	}
	c := app["container"].(map[string]any)
	if c["type"] != "MESOS" || c["docker"] != nil {
		out = append(out, fmt.Sprintf("container %v: want MESOS without an image", c))
	}
	for _, v := range vols {
		if p, _ := v["containerPath"].(string); p == "" || strings.Contains(p, "/") || p == "." || p == ".." {
			out = append(out, fmt.Sprintf("persistent volume containerPath %q: want one relative path element (in the sandbox)", p))
		}
		if v["mode"] != "RW" {
			out = append(out, fmt.Sprintf("persistent volume mode %v: the store writes", v["mode"]))
		}
	}
	us, _ := app["upgradeStrategy"].(map[string]any)
	if us["maximumOverCapacity"] != jsonInt(0) {
		out = append(out, fmt.Sprintf("upgradeStrategy.maximumOverCapacity %v: a resident app needs 0", us["maximumOverCapacity"]))
	}
	if h, err := strconv.ParseFloat(fmt.Sprint(us["minimumHealthCapacity"]), 64); err != nil || h < 0 || h > 0.5 {
		out = append(out, fmt.Sprintf("upgradeStrategy.minimumHealthCapacity %v: a resident app needs at most 0.5", us["minimumHealthCapacity"]))
	}
	if roles, ok := app["acceptedResourceRoles"]; ok && !reflect.DeepEqual(roles, []any{"*"}) {
		out = append(out, fmt.Sprintf(`acceptedResourceRoles %v: a resident app must have ["*"]`, roles))
	}
	if u, ok := app["unreachableStrategy"]; ok && u != "disabled" {
		out = append(out, fmt.Sprintf("unreachableStrategy %v: must be disabled for resident tasks", u))
	}
	return out
}

// rollProblems is why Marathon could not roll an app from one definition
// to the next in place, or would lose the store doing it: another id,
// other host ports (the new tasks would need other ports on the agents,
// and clients and Marathon-LB's neighbours would see them move), and for
// resident apps AppDefinition.residentUpdateIsValid (same persistent
// volumes, same cpus, mem, disk and ports). The store must be the same:
// the same znode, or the same volume.
func rollProblems(from, to map[string]any) []string {
	var out []string
	same := func(field string) {
		if !reflect.DeepEqual(from[field], to[field]) {
			out = append(out, fmt.Sprintf("%s changes: %v -> %v", field, from[field], to[field]))
		}
	}
	same("id")
	same("portDefinitions")
	same("requirePorts")
	same("constraints")
	if len(persistentVolumes(from)) > 0 || len(persistentVolumes(to)) > 0 {
		if !reflect.DeepEqual(persistentVolumes(from), persistentVolumes(to)) {
			out = append(out, fmt.Sprintf("persistent volumes change: %v -> %v (Marathon: Persistent volumes can not be changed!)", persistentVolumes(from), persistentVolumes(to)))
		}
		for _, f := range []string{"cpus", "mem", "disk"} {
			if !reflect.DeepEqual(from[f], to[f]) {
				out = append(out, fmt.Sprintf("%s changes: %v -> %v (Marathon: Resident Tasks may not change resource requirements!)", f, from[f], to[f]))
			}
		}
		for _, p := range residentProblems(to) {
			out = append(out, "the new app: "+p)
		}
	}
	for _, k := range []string{"TURNOUT_STORE", "TURNOUT_DATA_DIR"} {
		a, b := from["env"].(map[string]any)[k], to["env"].(map[string]any)[k]
		if !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("%s changes: %v -> %v: the new tasks would not find the gateways", k, a, b))
		}
	}
	return out
}

// missingOptions lists the options of a config.json schema that opts does
// not set, as section.field.
func missingOptions(schema, opts any, prefix string) []string {
	props, _ := schema.(map[string]any)["properties"].(map[string]any)
	given, _ := opts.(map[string]any)
	var out []string
	for name, p := range props {
		v, ok := given[name]
		if !ok {
			out = append(out, prefix+name)
			continue
		}
		if _, nested := p.(map[string]any)["properties"]; nested {
			out = append(out, missingOptions(p, v, prefix+name+".")...)
		}
	}
	slices.Sort(out)
	return out
}

// The checks above fail on what Marathon refuses: each mutation of the
// package's resident app breaks one rule.
func TestResidentRules(t *testing.T) {
	_, volume, err := renderOurs(t, map[string]any{"service": map[string]any{"role": "*"}, "zookeeper": map[string]any{"enabled": false}})
	if err != nil {
		t.Fatal(err)
	}
	if p := residentProblems(volume); len(p) != 0 {
		t.Fatalf("the package's resident app: %v", p)
	}
	edit := func(f func(app map[string]any)) map[string]any {
		app := deepCopy(volume).(map[string]any)
		f(app)
		return app
	}
	for name, app := range map[string]map[string]any{
		"over capacity":    edit(func(a map[string]any) { a["upgradeStrategy"].(map[string]any)["maximumOverCapacity"] = jsonNum("0.5") }),
		"health 1":         edit(func(a map[string]any) { a["upgradeStrategy"].(map[string]any)["minimumHealthCapacity"] = jsonInt(1) }),
		"public agents":    edit(func(a map[string]any) { a["acceptedResourceRoles"] = []any{"slave_public"} }),
		"no residency":     edit(func(a map[string]any) { delete(a, "residency") }),
		"absolute path":    edit(func(a map[string]any) { persistentVolumes(a)[0]["containerPath"] = "/var/lib/turnout" }),
		"docker":           edit(func(a map[string]any) { a["container"].(map[string]any)["type"] = "DOCKER" }),
		"unreachable kept": edit(func(a map[string]any) { a["unreachableStrategy"] = map[string]any{"inactiveAfterSeconds": jsonInt(0)} }),
	} {
		if p := residentProblems(app); len(p) != 1 {
			t.Errorf("%s: problems %v, want one", name, p)
		}
	}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

// nextVersion is the package as the next release would generate it: a
// copy of this revision with its version bumped (patch) through
// `make universe-package`'s generator.
func nextVersion(t *testing.T) (pkgDir, string) {
	t.Helper()
	b, err := ourPackage.read("package.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := release.PackageVersion(b)
	if err != nil {
		t.Fatal(err)
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch); err != nil {
		t.Fatalf("package version %q: %v", v, err)
	}
	next := fmt.Sprintf("v%d.%d.%d", major, minor, patch+1)
	dir := filepath.Join(t.TempDir(), "packages/T/turnout/1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"package.json", "config.json", "resource.json", "marathon.json.mustache"} {
		data, err := ourPackage.read(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(data))
	}
	if err := release.WritePackage(dir, next, release.DefaultBase); err != nil {
		t.Fatal(err)
	}
	return pkgDir(dir), strings.TrimPrefix(next, "v")
}

// Version N of the package (this one) and version N+1 (the next release,
// generated the same way) render apps Marathon rolls in place with the
// same options: the same id, host ports and store; for the resident app,
// nothing Marathon refuses to change. Only the fetched tarball differs.
func TestUpgradeRollsInPlace(t *testing.T) {
	next, nextV := nextVersion(t)
	cases := map[string]map[string]any{"defaults": nil}
	for _, name := range []string{"volume", "full", "zookeeper", "several-agents", "unreserved-range"} {
		v, err := readJSONFile("testdata/options/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		cases[name] = v.(map[string]any)
	}
	for name, opts := range cases {
		_, from, err := ourPackage.render(opts)
		if err != nil {
			t.Fatalf("%s: version N: %v", name, err)
		}
		_, to, err := next.render(opts)
		if err != nil {
			t.Fatalf("%s: version N+1: %v", name, err)
		}
		validateApp(t, name+" N+1", to)
		checkStore(t, name+" N+1", to)
		for _, p := range rollProblems(from, to) {
			t.Errorf("%s: N -> N+1: %s", name, p)
		}
		for _, p := range rollProblems(to, from) {
			t.Errorf("%s: rollback N+1 -> N: %s", name, p)
		}
		uri := func(app map[string]any) string { return app["fetch"].([]any)[0].(map[string]any)["uri"].(string) }
		if opts == nil && (uri(from) == uri(to) || !strings.Contains(uri(to), "turnout-"+nextV+"-linux-amd64.tar.gz")) {
			t.Errorf("%s: N fetches %s, N+1 %s: want the new version's tarball", name, uri(from), uri(to))
		}
		// Apart from the tarball, the apps are the same.
		a, b := maps.Clone(from), maps.Clone(to)
		delete(a, "fetch")
		delete(b, "fetch")
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: N and N+1 differ beyond the fetched tarball", name)
		}
	}
}

// rollProblems does refuse what Marathon would not roll, or what would
// lose the store: so the test above can fail.
func TestRollProblemsRefuses(t *testing.T) {
	render := func(opts string) map[string]any {
		t.Helper()
		v, err := decodeJSON([]byte(opts))
		if err != nil {
			t.Fatal(err)
		}
		_, app, err := ourPackage.render(v.(map[string]any))
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	const vol = `{"service": {"role": "*"}, "zookeeper": {"enabled": false}}`
	for name, c := range map[string][2]string{
		"another admin port":  {`{}`, `{"gateways": {"admin_port": 9881}}`},
		"ports unreserved":    {`{}`, `{"gateways": {"reserve_ports": false}}`},
		"another znode":       {`{}`, `{"zookeeper": {"path": "/elsewhere"}}`},
		"another name":        {`{}`, `{"service": {"name": "turnout2"}}`},
		"zookeeper to volume": {`{}`, vol},
		"volume to zookeeper": {vol, `{"service": {"role": "*"}}`},
		"volume resized":      {vol, `{"service": {"role": "*", "volume_size": 1024}, "zookeeper": {"enabled": false}}`},
		"resident cpus":       {vol, `{"service": {"role": "*", "cpus": 2}, "zookeeper": {"enabled": false}}`},
	} {
		if p := rollProblems(render(c[0]), render(c[1])); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
}
