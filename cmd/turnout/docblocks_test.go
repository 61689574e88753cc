package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The shell blocks of the README and docs/*.md. Every one is either run by
// TestDocCommandsRunAsWritten, in order, or marked right before its fence
// with <!-- not run: REASON -->, where REASON says why it cannot run on a
// test machine. There is no third way: a block is run unless it is marked.

// shellLangs are the fence languages whose blocks are commands.
var shellLangs = []string{"sh", "bash", "shell", "console"}

var (
	fenceRe  = regexp.MustCompile("^\\s*```+\\s*([A-Za-z0-9_+-]*)")
	markerRe = regexp.MustCompile(`^\s*<!--\s*not run\b(.*?)-->\s*$`)
)

// docBlock is one shell block of a doc.
type docBlock struct {
	file   string // path relative to the repository
	line   int    // the fence's line, from 1
	lang   string
	lines  []string // the block's lines, indentation of the fence removed
	marked bool     // <!-- not run: ... --> before it
	reason string
}

// docFiles are the docs whose commands must work: README.md and docs/*.md,
// relative to the repository root.
func docFiles(t *testing.T, repo string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	rel := []string{"README.md"}
	for _, f := range files {
		rel = append(rel, filepath.Join("docs", filepath.Base(f)))
	}
	return rel
}

// parseDocBlocks returns a doc's shell blocks, and what is wrong with its
// markers: one without a reason, or one that is not right before a shell
// block's fence.
func parseDocBlocks(file, text string) ([]docBlock, []string) {
	var blocks []docBlock
	var problems []string
	lines := strings.Split(text, "\n")
	pendingMarker := -1 // the line of a marker waiting for its fence
	reason := ""
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := markerRe.FindStringSubmatch(l); m != nil {
			if pendingMarker >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: a not-run marker followed by another marker, not by a shell block", file, pendingMarker+1))
			}
			pendingMarker, reason = i, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(m[1]), ":"))
			if !strings.HasPrefix(strings.TrimSpace(m[1]), ":") || len(strings.Fields(reason)) < 3 {
				problems = append(problems, fmt.Sprintf("%s:%d: %q: a not-run marker needs its reason, `<!-- not run: WHY, in a few words -->`", file, i+1, strings.TrimSpace(l)))
			}
			continue
		}
		m := fenceRe.FindStringSubmatch(l)
		if m == nil {
			if pendingMarker >= 0 && strings.TrimSpace(l) != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: a not-run marker must be right before a shell block's fence", file, pendingMarker+1))
				pendingMarker = -1
			}
			continue
		}
		// A fence: find its end, whatever its language.
		indent := len(l) - len(strings.TrimLeft(l, " \t"))
		ticks := strings.Count(strings.TrimSpace(l), "`") - strings.Count(strings.TrimLeft(strings.TrimSpace(l), "`"), "`")
		start := i
		var body []string
		for i++; i < len(lines); i++ {
			t := strings.TrimSpace(lines[i])
			if strings.HasPrefix(t, strings.Repeat("`", ticks)) && strings.Trim(t, "`") == "" {
				break
			}
			b := lines[i]
			if len(b) >= indent && strings.TrimSpace(b[:indent]) == "" {
				b = b[indent:]
			}
			body = append(body, b)
		}
		if !slices.Contains(shellLangs, m[1]) {
			if pendingMarker >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: a not-run marker before a %q block, which is not run anyway", file, pendingMarker+1, m[1]))
				pendingMarker = -1
			}
			continue
		}
		blocks = append(blocks, docBlock{file: file, line: start + 1, lang: m[1], lines: body, marked: pendingMarker >= 0, reason: reason})
		pendingMarker = -1
	}
	if pendingMarker >= 0 {
		problems = append(problems, fmt.Sprintf("%s:%d: a not-run marker at the end, before no block", file, pendingMarker+1))
	}
	return blocks, problems
}

// docCommand is one command of a block: a complete shell command (lines
// joined by `\`, an open quote or a compound command's body are one), the
// line it starts on, and the output the doc promises: the `# ...` comment
// lines right under it, with no blank line between.
type docCommand struct {
	block    int // the line of its block's fence
	line     int
	text     string
	promised []string
}

// splitCommands cuts a block into its commands; bash itself says where a
// command is complete (`bash -n`).
func splitCommands(t *testing.T, b docBlock) []docCommand {
	t.Helper()
	if b.lang == "console" {
		b.lines = consoleAsScript(b.lines)
	}
	var cmds []docCommand
	for i := 0; i < len(b.lines); i++ {
		l := strings.TrimSpace(b.lines[i])
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "#") {
			// A comment under a command is its promised output; any other
			// comment is prose.
			if n := len(cmds); n > 0 && i > 0 && strings.TrimSpace(b.lines[i-1]) != "" && cmds[n-1].line+strings.Count(cmds[n-1].text, "\n")+len(cmds[n-1].promised) == b.line+i {
				cmds[n-1].promised = append(cmds[n-1].promised, strings.TrimSpace(strings.TrimPrefix(l, "#")))
			}
			continue
		}
		j := i
		for ; j < len(b.lines); j++ {
			text := strings.Join(b.lines[i:j+1], "\n")
			if strings.HasSuffix(strings.TrimRight(b.lines[j], " "), "\\") {
				continue
			}
			// bash -n warns, but succeeds, on a here-document not ended yet.
			if out, err := exec.Command("bash", "-n", "-c", text).CombinedOutput(); err == nil && len(out) == 0 {
				break
			}
		}
		if j == len(b.lines) {
			t.Errorf("%s:%d: the command starting here never ends (bash -n):\n%s", b.file, b.line+1+i, strings.Join(b.lines[i:], "\n"))
			return nil
		}
		cmds = append(cmds, docCommand{block: b.line, line: b.line + 1 + i, text: strings.Join(b.lines[i:j+1], "\n")})
		i = j
	}
	return cmds
}

// consoleAsScript reads a console block as the sh blocks are written, line
// for line: "$ COMMAND" is the command (continued by "> " or a trailing
// backslash), and the lines under it are its output.
func consoleAsScript(lines []string) []string {
	out := make([]string, len(lines))
	cont := false
	for i, l := range lines {
		switch t := strings.TrimSpace(l); {
		case strings.HasPrefix(t, "$ "):
			out[i] = strings.TrimPrefix(t, "$ ")
		case cont || strings.HasPrefix(t, "> "):
			out[i] = strings.TrimPrefix(t, "> ")
		case t == "":
			out[i] = ""
		default:
			out[i] = "# " + t
		}
		cont = strings.HasSuffix(out[i], "\\") && !strings.HasPrefix(out[i], "# ")
	}
	return out
}

// promisedIn reports whether the promised lines are in the output, in order
// (other lines may come between). Within a promised line, "..." stands for
// anything (the spaces around it included) and a run of spaces for any run
// of spaces; a line that is only "..." stands for any lines.
func promisedIn(promised []string, output string) bool {
	out := strings.Split(output, "\n")
	k := 0
	for _, p := range promised {
		if p == "..." {
			continue
		}
		var parts []string
		for _, part := range strings.Split(p, "...") {
			fields := strings.Fields(part)
			for i := range fields {
				fields[i] = regexp.QuoteMeta(fields[i])
			}
			parts = append(parts, strings.Join(fields, `\s+`))
		}
		pat := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		for k < len(out) && !pat.MatchString(strings.TrimSpace(out[k])) {
			k++
		}
		if k == len(out) {
			return false
		}
		k++
	}
	return true
}

// Every marker carries a reason and stands right before a shell block; so
// every shell block is run or says why not.
func TestDocShellBlocksAreRunOrMarked(t *testing.T) {
	repo, _ := filepath.Abs("../..")
	run, marked := 0, 0
	for _, f := range docFiles(t, repo) {
		text, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		blocks, problems := parseDocBlocks(f, string(text))
		for _, p := range problems {
			t.Error(p)
		}
		for _, b := range blocks {
			if b.marked {
				marked++
				t.Logf("%s:%d: not run: %s", b.file, b.line, b.reason)
			} else {
				run++
			}
		}
	}
	t.Logf("%d shell blocks run by TestDocCommandsRunAsWritten, %d marked not run", run, marked)
	if run == 0 {
		t.Fatal("no shell block is run")
	}
}

func TestParseDocBlocks(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		blocks    int
		marked    []bool
		problems  int
	}{
		{"plain", "x\n```sh\necho a\n```\n", 1, []bool{false}, 0},
		{"marked", "<!-- not run: needs a DC/OS cluster -->\n```sh\ndcos x\n```\n", 1, []bool{true}, 0},
		{"marked after a blank line", "<!-- not run: needs a DC/OS cluster -->\n\n```bash\ndcos x\n```\n", 1, []bool{true}, 0},
		{"no reason", "<!-- not run -->\n```sh\ndcos x\n```\n", 1, []bool{true}, 1},
		{"empty reason", "<!-- not run: -->\n```sh\ndcos x\n```\n", 1, []bool{true}, 1},
		{"marker before prose", "<!-- not run: needs a DC/OS cluster -->\ntext\n```sh\nx\n```\n", 1, []bool{false}, 1},
		{"marker before yaml", "<!-- not run: needs a DC/OS cluster -->\n```yaml\na: 1\n```\n", 0, nil, 1},
		{"indented in a list", "- item:\n\n  ```sh\n  echo a\n  ```\n", 1, []bool{false}, 0},
		{"other languages skipped", "```go\nx\n```\n```console\n$ y\n```\n", 1, []bool{false}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocks, problems := parseDocBlocks("d.md", tc.doc)
			if len(blocks) != tc.blocks || len(problems) != tc.problems {
				t.Fatalf("%d blocks, problems %q; want %d blocks, %d problems", len(blocks), problems, tc.blocks, tc.problems)
			}
			for i, b := range blocks {
				if b.marked != tc.marked[i] {
					t.Errorf("block %d marked %v", i, b.marked)
				}
			}
		})
	}
}

func TestSplitCommandsAndPromisedOutput(t *testing.T) {
	b := docBlock{file: "d.md", line: 10, lines: strings.Split(`for i in 1 2; do curl -s x; done
# hello 1
# hello 2
curl -X POST \
  -d '{"a":
       1}' x

# prose, not output
turnout plugin list
# KIND  NAME
# ...
for h in a b; do
  echo $h
done
cat >f <<'EOF'
a: 1
EOF`, "\n")}
	cmds := splitCommands(t, b)
	console := splitCommands(t, docBlock{file: "d.md", line: 1, lang: "console", lines: strings.Split(`$ turnout plugin list
KIND  NAME
backend  file
$ curl -s \
    localhost:9880/healthz
ok`, "\n")})
	if len(console) != 2 || console[0].text != "turnout plugin list" || len(console[0].promised) != 2 || console[1].line != 5 || console[1].promised[0] != "ok" {
		t.Errorf("the console block's commands: %+v", console)
	}
	want := []struct {
		line     int
		promised int
	}{{11, 2}, {14, 0}, {19, 2}, {22, 0}, {25, 0}}
	if len(cmds) != len(want) {
		t.Fatalf("%d commands: %+v", len(cmds), cmds)
	}
	for i, w := range want {
		if cmds[i].line != w.line || len(cmds[i].promised) != w.promised {
			t.Errorf("command %d: line %d, promised %q; want line %d, %d promised", i, cmds[i].line, cmds[i].promised, w.line, w.promised)
		}
	}
	for _, tc := range []struct {
		promised []string
		out      string
		ok       bool
	}{
		{[]string{"hello 1", "hello 2"}, "hello 1\nhello 2\n", true},
		{[]string{"hello 1", "hello 2"}, "hello 2\nhello 1\n", false},
		{[]string{"KIND NAME", "backend  file  1.0.0 ...running  0", "..."}, "KIND     NAME\nbackend  consul  x\nbackend  file   1.0.0  v1 verified running  0\n", true},
		{[]string{"backend file ... running"}, "backend file 1.0 stopped\n", false},
		{[]string{"hello ... 1.1.0 ..."}, "hello from simple-service-1.1.0 (GET /)\n", true},
		{[]string{"2  2026-...Z  no  policy canary"}, "2         2026-12-07T16:23:19.777753866Z  no       policy canary\n", true},
		{[]string{"2  2026-...Z  no  policy canary"}, "2  2026-12-07T16:23:19Z  yes  policy canary\n", false},
	} {
		if got := promisedIn(tc.promised, tc.out); got != tc.ok {
			t.Errorf("promisedIn(%q, %q) = %v", tc.promised, tc.out, got)
		}
	}
}
