package universe

import (
	"strings"
	"testing"
)

func TestMustache(t *testing.T) {
	ctx := `{
	  "s": "a \"quoted\"\nline\t<b>&amp;</b> \\ é",
	  "empty": "",
	  "t": true, "f": false, "zero": 0, "n": null,
	  "int": 9880, "whole": 1024.0, "half": 0.5, "big": 12345678901, "tiny": 0.0001, "huge": 1e21,
	  "list": ["x", "y\"z"], "nums": [1, 2.5], "none": [],
	  "objs": [{"key": "k1", "value": "v1"}, {"key": "k2"}],
	  "a": {"b": {"c": "deep"}, "name": "inner"},
	  "name": "outer",
	  "dash-ed": {"x-y": "dashes"},
	  "obj": {}
	}`
	tests := []struct {
		name, tmpl, want string
	}{
		{"string is JSON-escaped without quotes, no HTML escaping",
			`"{{s}}"`, `"a \"quoted\"\nline\t<b>&amp;</b> \\ é"`},
		{"triple mustache is the same (escaping is off)", `{{{s}}}|{{& s}}`,
			`a \"quoted\"\nline\t<b>&amp;</b> \\ é|a \"quoted\"\nline\t<b>&amp;</b> \\ é`},
		{"numbers: ints, whole doubles as ints, Java doubles", `{{int}} {{whole}} {{half}} {{big}} {{tiny}} {{huge}} {{zero}}`,
			`9880 1024 0.5 1.2345678901E10 1.0E-4 1.0E21 0`},
		{"booleans and null", `{{t}} {{f}} [{{n}}] [{{missing}}]`, `true false [] []`},
		{"array strings keep their quotes", `[{{#list}}{{.}},{{/list}}]`, `["x","y\"z",]`},
		{"an array printed whole is Java's List.toString", `{{list}} {{nums}}`, `["x", "y\"z"] [1, 2.5]`},
		{"sections: true, non-empty string, number (even 0) and object render once",
			`{{#t}}T{{/t}}{{#s}}S{{/s}}{{#zero}}Z{{/zero}}{{#obj}}O{{/obj}}`, `TSZO`},
		{"sections: false, null, missing, empty string and empty list do not",
			`{{#f}}F{{/f}}{{#n}}N{{/n}}{{#missing}}M{{/missing}}{{#empty}}E{{/empty}}{{#none}}L{{/none}}.`, `.`},
		{"inverted sections are the opposite",
			`{{^f}}F{{/f}}{{^n}}N{{/n}}{{^missing}}M{{/missing}}{{^empty}}E{{/empty}}{{^none}}L{{/none}}{{^t}}T{{/t}}{{^zero}}Z{{/zero}}{{^s}}S{{/s}}`,
			`FNMEL`},
		{"a list of objects iterates with each on top", `{{#objs}}{{key}}={{value}};{{/objs}}`, `k1=v1;k2=;`},
		{"a name missing from the top scope is found below", `{{#objs}}{{name}} {{/objs}}`, `outer outer `},
		{"dotted names", `{{a.b.c}} {{a.name}} {{dash-ed.x-y}} [{{a.b.missing}}] [{{a.b.c.d}}]`, `deep inner dashes [] []`},
		{"dotted names in a pushed scope fall back to lower scopes", `{{#a}}{{name}} {{a.b.c}}{{/a}}`, `inner deep`},
		{"a string section pushes the string; names fall through it", `{{#s}}{{int}}{{/s}}`, `9880`},
		{"nested sections", `{{#t}}{{#a}}{{#b}}{{c}}{{/b}}{{/a}}{{/t}}`, `deep`},
		{"comments vanish", `a{{! a comment }}b`, `ab`},
		{"whitespace inside tags", `{{ int }}{{# t }}x{{/ t }}`, `9880x`},
	}
	c := mustContext(t, ctx)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := parseMustache(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := renderMustache(nodes, c)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestMustacheErrors(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"{{#a}}x", `line 1: section "a" is never closed`},
		{"{{#a}}\n{{/b}}", `line 2: {{/b}} closes section "a"`},
		{"x{{/a}}", `line 1: {{/a}} closes no section`},
		{"{{a", `line 1: unclosed tag`},
		{"{{}}", `line 1: empty tag`},
		{"{{>partial}}", `line 1: {{>...}} is not supported (no partials, no delimiter changes)`},
		{"{{=<% %>=}}", `line 1: {{=...}} is not supported (no partials, no delimiter changes)`},
	}
	for _, tt := range tests {
		_, err := parseMustache(tt.tmpl)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: got %v, want %s", tt.tmpl, err, tt.want)
		}
	}
	nodes, err := parseMustache("{{obj}}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := renderMustache(nodes, mustContext(t, `{"obj": {"a": 1}}`)); err == nil || !strings.Contains(err.Error(), "an object cannot be inserted") {
		t.Errorf("rendering an object as text: got %v", err)
	}
}

func TestJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{
		0.5: "0.5", 1: "1.0", 0.001: "0.001", 0.0009: "9.0E-4", 9999999: "9999999.0",
		1e7: "1.0E7", 1.5e10: "1.5E10", -2.25: "-2.25", 0: "0.0", 0.1: "0.1",
	} {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %s, want %s", f, got, want)
		}
	}
}

func mustContext(t *testing.T, doc string) any {
	t.Helper()
	v, err := decodeJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c, err := toMustache(v, false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
