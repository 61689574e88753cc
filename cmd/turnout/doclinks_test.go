package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	mdLinkRe = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// A path a doc names in prose: a file ending in .md, or a path that
	// starts ../ (`../shared/x`). (./turnout-data and the like are made at
	// run time.)
	mdMentionRe  = regexp.MustCompile("(?:^|[\\s`(\\[\"'])((?:\\.{1,2}/)?[A-Za-z0-9_./-]*[A-Za-z0-9_-]\\.md)\\b")
	relMentionRe = regexp.MustCompile("(?:^|[\\s`(\"'])(\\.\\./[A-Za-z0-9_./-]+[A-Za-z0-9_-])")
)

// Every file the README and the docs link to or name exists in the
// repository: a relative link (its #anchor aside), a FILE.md named in prose,
// a ../ path. A link to a file outside the repository (such as a
// design note kept elsewhere) is an error too: readers do not have it.
func TestDocReferencesExist(t *testing.T) {
	repo, _ := filepath.Abs("../..")
	docs := append(docFiles(t, repo), "CHANGELOG.md", "universe/README.md")
	plugins, _ := filepath.Glob(filepath.Join(repo, "plugins", "*", "*", "README.md"))
	for _, p := range plugins {
		rel, _ := filepath.Rel(repo, p)
		docs = append(docs, rel)
	}
	checked := 0
	for _, doc := range docs {
		text, err := os.ReadFile(filepath.Join(repo, doc))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(text), "\n") {
			var refs []string
			for _, m := range mdLinkRe.FindAllStringSubmatch(line, -1) {
				if target := m[1]; !strings.Contains(target, "://") && !strings.HasPrefix(target, "#") && !strings.HasPrefix(target, "mailto:") {
					refs = append(refs, strings.SplitN(target, "#", 2)[0])
				}
			}
			for _, re := range []*regexp.Regexp{mdMentionRe, relMentionRe} {
				for _, m := range re.FindAllStringSubmatch(line, -1) {
					refs = append(refs, strings.TrimRight(m[1], "."))
				}
			}
			for _, ref := range refs {
				checked++
				if err := refExists(repo, doc, ref); err != nil {
					t.Errorf("%s:%d: %v", doc, i+1, err)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d references checked: the patterns no longer match the docs", checked)
	}
}

// refExists: ref, relative to the doc's directory or (a path named in
// prose) to the repository's root, is in the repository.
func refExists(repo, doc, ref string) error {
	if strings.Contains(ref, "://") || strings.Contains(ref, "github.com/") {
		return nil
	}
	for _, base := range []string{filepath.Join(repo, filepath.Dir(doc)), repo} {
		p := filepath.Clean(filepath.Join(base, ref))
		if rel, err := filepath.Rel(repo, p); err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("%s leads out of the repository", ref)
		}
		if _, err := os.Stat(p); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s: no such file in the repository", ref)
}

func TestRefExists(t *testing.T) {
	repo, _ := filepath.Abs("../..")
	for _, tc := range []struct {
		doc, ref string
		ok       bool
	}{
		{"README.md", "docs/api.md", true},
		{"docs/api.md", "operations.md", true},
		{"docs/api.md", "../plugins/policy/canary/README.md", true},
		{"docs/api.md", "docs/api.md", true}, // named from the root in prose
		{"README.md", "DESIGN.md", false},
		{"docs/api.md", "../../shared/DESIGN.md", false},
		{"docs/api.md", "missing.md", false},
	} {
		if err := refExists(repo, tc.doc, tc.ref); (err == nil) != tc.ok {
			t.Errorf("refExists(%s, %s) = %v", tc.doc, tc.ref, err)
		}
	}
}
