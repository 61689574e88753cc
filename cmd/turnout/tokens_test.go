package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadTokensFile: NAME:TOKEN lines, comments and blank lines skipped;
// a bad line is refused naming the file and the line.
func TestReadTokensFile(t *testing.T) {
	for _, c := range []struct {
		name, text, want string // want: names joined, or the error's words
		ok               bool
	}{
		{"two", "# ops\nalice:a1\n\n bob : b:2 \n", "alice,bob", true},
		{"no colon", "alice:a1\nbob\n", ":2: want NAME:TOKEN", false},
		{"empty token", "alice:\n", ":1: want NAME:TOKEN", false},
		{"bad name", "al ice:a1\n", `:1: name "al ice"`, false},
		{"same name", "alice:a1\nalice:a2\n", `:2: name "alice" is also on line 1`, false},
		{"same token", "alice:a1\nbob:a1\n", `:2: the token of "bob" is also on line 1`, false},
		{"nothing", "# none\n\n", "no NAME:TOKEN line", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "tokens")
			if err := os.WriteFile(file, []byte(c.text), 0o600); err != nil {
				t.Fatal(err)
			}
			toks, err := readTokensFile(file)
			if !c.ok {
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), file) {
					t.Fatalf("error %v, want one with %q and the file", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tk := range toks {
				names = append(names, tk.Name)
			}
			if strings.Join(names, ",") != c.want || toks[1].Secret != "b:2" {
				t.Fatalf("got %+v", toks)
			}
		})
	}
}
