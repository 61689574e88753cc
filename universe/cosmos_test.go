package universe

// What Cosmos does with a package when someone runs
// `dcos package install NAME --options=FILE` (PackageDefinitionRenderer
// .renderMarathonV2App), reproduced for the tests: the defaults of
// config.json, deep-merged with the user's options, validated against
// config.json (draft 4), then the template rendered over the options plus
// {"resource": resource.json}. The result must be one JSON object.
//
// Not reproduced: the labels Cosmos adds afterwards (DCOS_PACKAGE_NAME,
// DCOS_PACKAGE_VERSION, DCOS_PACKAGE_SOURCE, DCOS_PACKAGE_OPTIONS and
// DCOS_PACKAGE_DEFINITION, the last two base64 of the options and of the
// whole package), which depend on the repository serving the package.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// pkgDir is a Universe package revision: package.json, and optionally
// config.json, resource.json and marathon.json.mustache.
type pkgDir string

func (d pkgDir) read(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), name))
}

// readJSON decodes one of the package's JSON files; ok is false when the
// file does not exist.
func (d pkgDir) readJSON(name string) (v any, ok bool, err error) {
	data, err := d.read(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err = decodeJSON(data)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", filepath.Join(string(d), name), err)
	}
	return v, true, nil
}

// errOptionsNotAllowed is Cosmos's OptionsNotAllowed.
var errOptionsNotAllowed = errors.New("options given to a package without config.json")

// schemaMismatchError is Cosmos's JsonSchemaMismatch: the merged options
// do not match config.json.
type schemaMismatchError struct{ problems string }

func (e *schemaMismatchError) Error() string {
	return "options do not match config.json:\n" + e.problems
}

// render is Cosmos's install-time rendering of d's Marathon app with the
// user's options (nil for none). It returns the app as text (the
// template's output) and decoded.
func (d pkgDir) render(options map[string]any) (string, map[string]any, error) {
	config, hasConfig, err := d.readJSON("config.json")
	if err != nil {
		return "", nil, err
	}
	merged := map[string]any{}
	if hasConfig {
		merged = defaultsOf(config)
	} else if len(options) > 0 {
		return "", nil, errOptionsNotAllowed
	}
	if options != nil {
		merged = deepMerge(merged, options)
	}
	// Cosmos validates only non-empty options, as circe sees them.
	if hasConfig && len(merged) > 0 {
		sch, err := compileSchema("https://universe.test/"+filepath.Base(filepath.Dir(string(d)))+"/config.json", config)
		if err != nil {
			return "", nil, fmt.Errorf("config.json is not a schema: %w", err)
		}
		if err := sch.Validate(merged); err != nil {
			return "", nil, &schemaMismatchError{schemaProblems(err)}
		}
	}
	ctx := merged
	if resource, ok, err := d.readJSON("resource.json"); err != nil {
		return "", nil, err
	} else if ok {
		ctx = deepMerge(merged, map[string]any{"resource": resource})
	}
	tmpl, err := d.read("marathon.json.mustache")
	if err != nil {
		return "", nil, err
	}
	nodes, err := parseMustache(string(tmpl))
	if err != nil {
		return "", nil, fmt.Errorf("marathon.json.mustache: %w", err)
	}
	mctx, err := toMustache(ctx, false)
	if err != nil {
		return "", nil, err
	}
	out, err := renderMustache(nodes, mctx)
	if err != nil {
		return "", nil, fmt.Errorf("marathon.json.mustache: %w", err)
	}
	v, err := decodeJSON([]byte(out))
	if err != nil {
		return out, nil, fmt.Errorf("the rendered template is not JSON: %w\n%s", err, out)
	}
	app, ok := v.(map[string]any)
	if !ok {
		return out, nil, errors.New("the rendered template is not a JSON object (Cosmos: MarathonTemplateMustBeJsonObject)")
	}
	// Cosmos reads the labels as a map of strings before it adds its own.
	if labels, ok := app["labels"]; ok {
		m, ok := labels.(map[string]any)
		if !ok {
			return out, nil, errors.New("labels is not an object")
		}
		for k, v := range m {
			if _, ok := v.(string); !ok {
				return out, nil, fmt.Errorf("label %s is not a string", k)
			}
		}
	}
	return out, app, nil
}

// defaultsOf is Cosmos's JsonSchema.extractDefaultsFromSchema: for each
// property, its default if it has one, else (if it has properties) the
// defaults found under them, even none.
func defaultsOf(schema any) map[string]any {
	out := map[string]any{}
	obj, _ := schema.(map[string]any)
	props, _ := obj["properties"].(map[string]any)
	for name, p := range props {
		prop, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if d, ok := prop["default"]; ok {
			out[name] = d
		} else if _, ok := prop["properties"]; ok {
			out[name] = defaultsOf(prop)
		}
	}
	return out
}

// deepMerge is circe's deepMerge: objects merge key by key at any depth;
// anything else in b replaces what a has.
func deepMerge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, bv := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := bv.(map[string]any)
		if aok && bok {
			out[k] = deepMerge(am, bm)
		} else {
			out[k] = bv
		}
	}
	return out
}

// decodeJSON decodes exactly one JSON value, numbers as json.Number,
// refusing duplicate keys (which a template with a badly placed section
// produces, and which parsers resolve differently).
func decodeJSON(data []byte) (any, error) {
	if err := checkDuplicateKeys(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		path   string
		// expectKey is true in an object when the next string is a key.
		expectKey bool
	}
	var stack []*frame
	path := func() string {
		if len(stack) == 0 {
			return "/"
		}
		return stack[len(stack)-1].path
	}
	var lastKey string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			key := tok.(string)
			if top.keys[key] {
				return fmt.Errorf("duplicate key %q in %s", key, top.path)
			}
			top.keys[key] = true
			top.expectKey = false
			lastKey = key
			continue
		}
		if top != nil && top.object {
			top.expectKey = true
		}
		switch tok {
		case json.Delim('{'):
			p := path()
			if top != nil && top.object {
				p = strings.TrimSuffix(p, "/") + "/" + lastKey
			}
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, path: p, expectKey: true})
		case json.Delim('['):
			p := path()
			if top != nil && top.object {
				p = strings.TrimSuffix(p, "/") + "/" + lastKey
			}
			stack = append(stack, &frame{path: p})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// compileSchema compiles a draft-4 schema held in memory under url.
func compileSchema(url string, doc any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// schemaProblems lists a validation error's leaves, one per line as
// "at /pointer: message", sorted (the library's order follows maps).
func schemaProblems(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var lines []string
	var walk func(u jsonschema.OutputUnit)
	walk = func(u jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			loc := u.InstanceLocation
			if loc == "" {
				loc = "/"
			}
			lines = append(lines, fmt.Sprintf("at %s: %s", loc, u.Error))
		}
		for _, c := range u.Errors {
			walk(c)
		}
	}
	walk(*ve.DetailedOutput())
	slices.Sort(lines)
	return strings.Join(slices.Compact(lines), "\n")
}
