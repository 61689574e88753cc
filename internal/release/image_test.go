package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The Dockerfile must build what `make image` builds. Docker is not
// installed where Turnout is developed and tested (and CI does not have
// it either), so the Dockerfile is not built here: it is read instead,
// the way Docker reads it, and its final stage's USER, ENV, VOLUME,
// EXPOSE, LABEL, ENTRYPOINT and CMD must make ImageConfig, its build stage
// must create ImageFiles with their modes and owners, with the build flags
// and the Go release of `make release`. What this cannot see is Docker's
// own behaviour (that COPY --from keeps owners and modes, as Docker
// documents): the image's layer itself is checked in universe's TestImage.
func TestDockerfileBuildsTheImage(t *testing.T) {
	const version, revision = "v1.2.3", "0123456789abcdef0123456789abcdef01234567"
	df := readDockerfile(t, "../../Dockerfile")
	if len(df.stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, then the image)", len(df.stages))
	}
	build, final := df.stages[0], df.stages[1]
	if final.from != "scratch" {
		t.Errorf("the image is FROM %s, want scratch (no shell, nothing but the binary)", final.from)
	}
	args := map[string]string{"VERSION": version, "REVISION": revision}

	// The final stage: only instructions that make the configuration, and
	// one COPY of the build stage's /rootfs.
	got := v1.Config{}
	for _, in := range final.instructions {
		switch in.cmd {
		case "COPY":
			if in.args != "--from=build /rootfs/ /" {
				t.Errorf("line %d: COPY %s, want COPY --from=build /rootfs/ / (the files are made in the build stage)", in.line, in.args)
			}
		case "USER":
			got.User = in.args
		case "ENV":
			for _, kv := range keyValues(t, in) {
				got.Env = append(got.Env, kv[0]+"="+expand(kv[1], args))
			}
		case "VOLUME":
			got.Volumes = addKeys(got.Volumes, strings.Fields(in.args))
		case "EXPOSE":
			for _, p := range strings.Fields(in.args) {
				if !strings.Contains(p, "/") {
					p += "/tcp" // Docker's default protocol
				}
				got.ExposedPorts = addKeys(got.ExposedPorts, []string{p})
			}
		case "LABEL":
			for _, kv := range keyValues(t, in) {
				if got.Labels == nil {
					got.Labels = map[string]string{}
				}
				got.Labels[kv[0]] = expand(kv[1], args)
			}
		case "ENTRYPOINT":
			got.Entrypoint = execForm(t, in)
		case "CMD":
			got.Cmd = execForm(t, in)
		case "ARG":
		default:
			t.Errorf("line %d: %s in the image's stage: the image is only the build stage's files and its configuration", in.line, in.cmd)
		}
	}
	if want := ImageConfig(version, revision); !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("the Dockerfile's image configuration is\n%s\nmake image's (ImageConfig) is\n%s", g, w)
	}

	// The build stage: the same Go release, flags and files.
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	toolchain := regexp.MustCompile(`(?m)^toolchain go(\S+)$`).FindSubmatch(gomod)
	if toolchain == nil {
		t.Fatal("go.mod has no toolchain line")
	}
	if df.args["GO_VERSION"] != string(toolchain[1]) || build.from != "golang:${GO_VERSION}-alpine" {
		t.Errorf("the build stage is FROM %s with GO_VERSION=%s; want golang:${GO_VERSION}-alpine with go.mod's toolchain, %s",
			build.from, df.args["GO_VERSION"], toolchain[1])
	}
	goBuild := makeGoBuild(t)
	var run string
	for _, in := range build.instructions {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			run = in.args
		}
	}
	if !strings.Contains(run, goBuild) || !strings.Contains(run, "CGO_ENABLED=0") {
		t.Errorf("the build stage's go build is\n  %s\nwant CGO_ENABLED=0 and make release's flags:\n  %s", run, goBuild)
	}
	for _, want := range rootfsCommands() {
		if !strings.Contains(run, want) {
			t.Errorf("the build stage does not %q, which the image's layer has (ImageFiles):\n  %s", want, run)
		}
	}
}

// rootfsCommands are what the build stage must run to make ImageFiles
// under /rootfs: each directory that is not a parent of another made,
// the modes that are not mkdir's, the owners that are not root, the
// binary's place.
func rootfsCommands() []string {
	var dirs, cmds []string
	for _, e := range ImageFiles() {
		p := "/rootfs/" + strings.TrimSuffix(e.Name, "/")
		if !strings.HasSuffix(e.Name, "/") {
			cmds = append(cmds, "-o "+p+" ")
			continue
		}
		dirs = append(dirs, p)
		if e.Mode != 0o755 {
			cmds = append(cmds, fmt.Sprintf("chmod %o %s", e.Mode, p))
		}
		if e.UID != 0 || e.GID != 0 {
			cmds = append(cmds, fmt.Sprintf("chown %d:%d %s", e.UID, e.GID, p))
		}
	}
	var leaves []string
	for _, d := range dirs {
		parent := false
		for _, o := range dirs {
			parent = parent || strings.HasPrefix(o, d+"/")
		}
		if !parent {
			leaves = append(leaves, d)
		}
	}
	return append(cmds, "mkdir -p "+strings.Join(leaves, " "))
}

// makeGoBuild is the Makefile's go build of the static binary (STATIC_BUILD
// and LDFLAGS) as the Dockerfile writes it: ${VERSION} for $(VERSION).
func makeGoBuild(t *testing.T) string {
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	ld := regexp.MustCompile(`(?m)^LDFLAGS\s*:?=\s*(.*)$`).FindSubmatch(b)
	sb := regexp.MustCompile(`(?m)^STATIC_BUILD\s*:?=\s*CGO_ENABLED=0 \$\(GO\) build (.*) -ldflags '\$\(LDFLAGS\)'$`).FindSubmatch(b)
	if ld == nil || sb == nil {
		t.Fatal("the Makefile has no LDFLAGS, or no STATIC_BUILD = CGO_ENABLED=0 $(GO) build ... -ldflags '$(LDFLAGS)'")
	}
	flags := strings.ReplaceAll(strings.TrimSpace(string(ld[1])), "$(VERSION)", "${VERSION}")
	return "go build " + string(sb[1]) + ` -ldflags "` + flags + `"`
}

type dockerfile struct {
	args   map[string]string // the ARGs before the first FROM, with their defaults
	stages []stage
}

type stage struct {
	from         string
	instructions []instruction
}

type instruction struct {
	line      int
	cmd, args string
}

// readDockerfile splits a Dockerfile into stages of instructions, lines
// continued with \ joined and comments dropped, as Docker reads it.
func readDockerfile(t *testing.T, name string) dockerfile {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	df := dockerfile{args: map[string]string{}}
	var cur *instruction
	var all []instruction
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == nil) {
			continue
		}
		if cur == nil {
			cmd, rest, _ := strings.Cut(trimmed, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd)}
			trimmed = rest
		}
		more := strings.HasSuffix(trimmed, `\`)
		cur.args = strings.TrimSpace(cur.args + " " + strings.TrimSpace(strings.TrimSuffix(trimmed, `\`)))
		if !more {
			all = append(all, *cur)
			cur = nil
		}
	}
	for _, in := range all {
		switch {
		case in.cmd == "FROM":
			from, _, _ := strings.Cut(in.args, " ")
			df.stages = append(df.stages, stage{from: from})
		case len(df.stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			df.args[k] = v
		case len(df.stages) == 0:
			t.Fatalf("%s:%d: %s before the first FROM", name, in.line, in.cmd)
		default:
			s := &df.stages[len(df.stages)-1]
			s.instructions = append(s.instructions, in)
		}
	}
	return df
}

var keyValueRE = regexp.MustCompile(`^([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S*)(?:\s+|$)`)

// keyValues reads ENV's and LABEL's key=value pairs (values quoted or not).
func keyValues(t *testing.T, in instruction) [][2]string {
	t.Helper()
	var kvs [][2]string
	for rest := in.args; rest != ""; {
		m := keyValueRE.FindStringSubmatch(rest)
		if m == nil {
			t.Fatalf("line %d: %s %s: want key=value pairs", in.line, in.cmd, in.args)
		}
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			if err := json.Unmarshal([]byte(v), &v); err != nil {
				t.Fatalf("line %d: %s: %v", in.line, m[2], err)
			}
		}
		kvs = append(kvs, [2]string{m[1], v})
		rest = rest[len(m[0]):]
	}
	return kvs
}

// execForm reads ENTRYPOINT's and CMD's JSON form (the shell form needs a
// shell, which the image does not have).
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var s []string
	if err := json.Unmarshal([]byte(in.args), &s); err != nil {
		t.Errorf("line %d: %s %s: want the exec form, a JSON array (the image has no shell): %v", in.line, in.cmd, in.args, err)
	}
	return s
}

// expand substitutes ${NAME} from args, as Docker does with build args.
func expand(s string, args map[string]string) string {
	return os.Expand(s, func(k string) string { return args[k] })
}

func addKeys(m map[string]struct{}, keys []string) map[string]struct{} {
	if m == nil {
		m = map[string]struct{}{}
	}
	for _, k := range keys {
		m[path.Clean(k)] = struct{}{}
	}
	return m
}

// make image takes the binary from the release tarball when DIST has one,
// and builds it otherwise: both give the same image for the same bytes.
// And a tarball without the binary, or a bad version, is refused.
func TestWriteImageFromTarballOrBinary(t *testing.T) {
	dir := t.TempDir()
	created := time.Unix(1700000000, 0)
	bin := filepath.Join(dir, "turnout")
	if err := os.WriteFile(bin, []byte("#!not a real binary: the image does not run it\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tgz := filepath.Join(dir, "turnout-1.2.3-linux-amd64.tar.gz")
	if err := WriteTarball(tgz, created, []File{{Name: "turnout", Path: bin, Mode: 0o755}, {Name: "LICENSE", Path: "../../LICENSE", Mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	write := func(name, from string) []byte {
		out := filepath.Join(dir, name)
		if err := WriteImage(out, "v1.2.3", "", created, []ImagePlatform{{OS: "linux", Arch: "amd64", Binary: from}}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if a, b := write("a.tar", bin), write("b.tar", tgz); !bytes.Equal(a, b) {
		t.Error("the image from the release tarball differs from the image from its binary")
	}

	noBinary := filepath.Join(dir, "empty.tar.gz")
	if err := WriteTarball(noBinary, created, []File{{Name: "LICENSE", Path: "../../LICENSE", Mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version, binary, want string
	}{
		{"v1.2.3", noBinary, "no turnout binary in it"},
		{"1.2.3", bin, `version "1.2.3": want vX.Y.Z`},
		{"v1.2.3", filepath.Join(dir, "missing"), "no such file"},
	} {
		err := WriteImage(filepath.Join(dir, "bad.tar"), tc.version, "", created, []ImagePlatform{{OS: "linux", Arch: "amd64", Binary: tc.binary}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WriteImage(%s, %s): %v, want an error saying %q", tc.version, tc.binary, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.tar")); !os.IsNotExist(err) {
		t.Errorf("a refused image was written: %v", err)
	}
}
