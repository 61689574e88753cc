package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/turnout/turnout/core/api"
)

// tokenName is what may name a token: it is shown as the author of changes.
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// readTokensFile reads --tokens-file: one NAME:TOKEN a line, blank lines
// and "#" comments skipped. Each name signs the changes made with its
// token (the author in history and events).
func readTokensFile(file string) ([]api.NamedToken, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--tokens-file: %w", err)
	}
	var out []api.NamedToken
	names, secrets := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, secret, ok := strings.Cut(line, ":")
		name, secret = strings.TrimSpace(name), strings.TrimSpace(secret)
		switch {
		case !ok || secret == "":
			return nil, fmt.Errorf("--tokens-file %s:%d: want NAME:TOKEN", file, n)
		case !tokenName.MatchString(name):
			return nil, fmt.Errorf("--tokens-file %s:%d: name %q: want letters, digits, '.', '_', '@' or '-' (up to 64)", file, n, name)
		case names[name] > 0:
			return nil, fmt.Errorf("--tokens-file %s:%d: name %q is also on line %d", file, n, name, names[name])
		case secrets[secret] > 0:
			return nil, fmt.Errorf("--tokens-file %s:%d: the token of %q is also on line %d: each name needs its own", file, n, name, secrets[secret])
		}
		names[name], secrets[secret] = n, n
		out = append(out, api.NamedToken{Name: name, Secret: secret})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--tokens-file %s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--tokens-file %s: no NAME:TOKEN line", file)
	}
	return out, nil
}
