// Package pluginhost launches, verifies and supervises Turnout's plugins:
// the built-in ones (the turnout binary re-executed as
// `turnout plugin start KIND NAME`) and third-party executables named
// turnout-plugin-KIND-NAME in the plugin directory, each checked against a
// configured SHA-256 before it runs. Plugins are separate processes: a
// crash costs a restart, never the data plane.
package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/turnout/turnout/plugins/sdk"
)

// Prefix starts every third-party plugin's executable name.
const Prefix = "turnout-plugin-"

// Errors of the catalog, wrapped with the plugin's name and the details.
var (
	ErrNoChecksum       = errors.New("no checksum configured")
	ErrChecksumMismatch = errors.New("checksum mismatch")
	ErrOutsideDir       = errors.New("outside the plugin directory")
	ErrNotExecutable    = errors.New("not an executable file")
	ErrAPIVersion       = errors.New("incompatible plugin API version")
)

// Entry is one plugin the host knows of.
type Entry struct {
	Name    string
	Kind    sdk.Kind
	Builtin bool
	// Path is the executable: the turnout binary itself for built-ins.
	Path string
	// Args follow Path on the command line.
	Args []string
	// Checksum is the SHA-256 the executable must have (for built-ins, the
	// turnout binary's own at startup: an upgrade that swaps the binary
	// underneath fails loudly instead of mixing versions).
	Checksum []byte
	// Refused says why the plugin cannot be started (nil if it can).
	Refused error
	// Replaces is set when a third-party plugin takes a built-in's place.
	Replaces bool
	// Info is what the plugin said of itself when it last ran; for a
	// built-in, known without running it.
	Info sdk.Info
}

// ID is "KIND/NAME".
func (e Entry) ID() string { return string(e.Kind) + "/" + e.Name }

// Builtin names a plugin compiled into the turnout binary.
type Builtin struct {
	Kind sdk.Kind
	Name string
	// Info, if known, describes it before it ever runs.
	Info sdk.Info
}

// CatalogOptions say where plugins come from.
type CatalogOptions struct {
	// Self is the turnout executable (os.Executable()), re-executed for
	// built-ins as Self plugin start KIND NAME.
	Self     string
	Builtins []Builtin
	// Dir is the third-party plugin directory ("" for none).
	Dir string
	// Checksums are the configured SHA-256 sums (hex) of third-party
	// executables, by file name (turnout-plugin-KIND-NAME).
	Checksums map[string]string
}

// Catalog is every plugin the host may start, keyed by kind and name.
// Rescan reads the plugin directory again; the rest reads.
type Catalog struct {
	opts     CatalogOptions
	builtins map[string]Entry

	mu      sync.RWMutex
	entries map[string]Entry
}

// NewCatalog hashes the turnout binary and scans the plugin directory.
// Plugins that cannot be used are kept, with the reason, so `turnout plugin
// list` can show them; an error is returned only when the directory or the
// binary cannot be read at all.
func NewCatalog(o CatalogOptions) (*Catalog, error) {
	c := &Catalog{opts: o, builtins: map[string]Entry{}}
	if len(o.Builtins) > 0 {
		sum, err := fileSHA256(o.Self)
		if err != nil {
			return nil, fmt.Errorf("hash the turnout binary for built-in plugins: %w", err)
		}
		for _, b := range o.Builtins {
			e := Entry{Name: b.Name, Kind: b.Kind, Builtin: true, Path: o.Self,
				Args: []string{"plugin", "start", string(b.Kind), b.Name}, Checksum: sum, Info: b.Info}
			c.builtins[e.ID()] = e
		}
	}
	entries, err := c.scan()
	if err != nil {
		return nil, err
	}
	c.entries = entries
	return c, nil
}

// Dir is the third-party plugin directory ("" for none).
func (c *Catalog) Dir() string { return c.opts.Dir }

// Rescan reads the plugin directory again, so that a plugin refused for
// its file (a checksum mismatch, not executable, missing) is usable once
// the file is right, and a file that went wrong is refused at its next
// start. On an error the catalog stays as it was.
func (c *Catalog) Rescan() error {
	entries, err := c.scan()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.entries = entries
	c.mu.Unlock()
	return nil
}

// scan is the built-ins with the plugin directory's plugins over them.
func (c *Catalog) scan() (map[string]Entry, error) {
	o := c.opts
	entries := make(map[string]Entry, len(c.builtins))
	for id, e := range c.builtins {
		entries[id] = e
	}
	seen := map[string]bool{}
	if o.Dir != "" {
		found, err := scanDir(o.Dir, o.Checksums)
		if err != nil {
			return nil, err
		}
		for _, e := range found {
			seen[filepath.Base(e.Path)] = true
			if b, ok := entries[e.ID()]; ok && b.Builtin {
				if e.Refused != nil {
					continue // a bad file never displaces a working built-in
				}
				e.Replaces = true
			}
			entries[e.ID()] = e
		}
	}
	for file := range o.Checksums {
		if !seen[file] {
			kind, name, ok := parseName(file)
			if !ok {
				return nil, fmt.Errorf("plugin checksum for %q: the name must be %sKIND-NAME with KIND backend or policy", file, Prefix)
			}
			e := Entry{Name: name, Kind: kind, Path: filepath.Join(o.Dir, file),
				Refused: fmt.Errorf("plugin %s: a checksum is configured but %s is not in the plugin directory %q", file, file, o.Dir)}
			if _, ok := entries[e.ID()]; !ok {
				entries[e.ID()] = e
			}
		}
	}
	return entries, nil
}

// Entries lists the catalog by kind, then name.
func (c *Catalog) Entries() []Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Entry, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// Get returns the plugin of a kind and name.
func (c *Catalog) Get(kind sdk.Kind, name string) (Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[string(kind)+"/"+name]
	return e, ok
}

// ForScheme is the backend plugin that resolves targets of scheme: the
// one named after it (a third-party plugin of that name takes the
// scheme, also from a built-in that serves several), else the built-in
// whose Info lists it (the dcos plugin serves marathon:, minuteman: and
// marathon-lb: from one process).
func (c *Catalog) ForScheme(scheme string) (Entry, bool) {
	if e, ok := c.Get(sdk.KindBackend, scheme); ok {
		return e, true
	}
	for _, e := range c.Entries() {
		if e.Kind == sdk.KindBackend && e.Builtin && slices.Contains(e.Info.Schemes, scheme) {
			return e, true
		}
	}
	return Entry{}, false
}

// scanDir lists the turnout-plugin-KIND-NAME executables of dir. Symlinks
// are followed only when they stay inside dir (Vault's rule: a plugin
// directory is the whole trust boundary).
func scanDir(dir string, sums map[string]string) ([]Entry, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin directory: %w", err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("plugin directory: %w", err)
	}
	des, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("plugin directory: %w", err)
	}
	var out []Entry
	for _, de := range des {
		kind, name, ok := parseName(de.Name())
		if !ok {
			continue
		}
		e := Entry{Name: name, Kind: kind, Path: filepath.Join(root, de.Name())}
		e.Refused = checkFile(root, e.Path)
		if e.Refused == nil {
			want, ok := sums[de.Name()]
			switch {
			case !ok:
				e.Refused = fmt.Errorf("plugin %s: %w: add --plugin-checksum %s=SHA256", de.Name(), ErrNoChecksum, de.Name())
			default:
				sum, err := hex.DecodeString(strings.TrimSpace(want))
				if err != nil || len(sum) != sha256.Size {
					e.Refused = fmt.Errorf("plugin %s: the configured checksum %q is not a hex SHA-256", de.Name(), want)
				} else {
					e.Checksum = sum
					e.Refused = verify(e.Path, sum)
				}
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// checkFile refuses what resolves outside root and what is not a regular
// executable file.
func checkFile(root, path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", filepath.Base(path), err)
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("plugin %s: %w: it resolves to %s", filepath.Base(path), ErrOutsideDir, real)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", filepath.Base(path), err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("plugin %s: %w", filepath.Base(path), ErrNotExecutable)
	}
	return nil
}

// verify compares a file's SHA-256 with the configured one.
func verify(path string, want []byte) error {
	got, err := fileSHA256(path)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", filepath.Base(path), err)
	}
	if string(got) != string(want) {
		return fmt.Errorf("plugin %s: %w: configured %x, file has %x", filepath.Base(path), ErrChecksumMismatch, want, got)
	}
	return nil
}

// parseName reads turnout-plugin-KIND-NAME.
func parseName(file string) (sdk.Kind, string, bool) {
	rest, ok := strings.CutPrefix(file, Prefix)
	if !ok {
		return "", "", false
	}
	kind, name, ok := strings.Cut(rest, "-")
	if !ok || name == "" || (kind != string(sdk.KindBackend) && kind != string(sdk.KindPolicy)) {
		return "", "", false
	}
	return sdk.Kind(kind), name, true
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
