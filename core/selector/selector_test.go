package selector

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Vamp's RouteSelectorParserSpec.scala
// (model/src/test/scala/io/vamp/model/parser): every form it parses, and
// the one it refuses.
func TestParseVampSpec(t *testing.T) {
	for _, src := range []string{
		"name(.*)", "id(.*)", "kind(app)", "type(pod)", "namespace(default)", "group(vamp)",
		"image (^.*$)", "ip(127.0.0.1)", "host(localhost)", "port(8080)",
		"label(water)(ice)", "label (water) (ice) ", "index(0)", "port_index(0)",
		// with single group
		"image(^water:(.*)$)", "image((.*)$)", "image(^(.*))", "image((.*))",
		// expressions
		"id(water) and image(ice)", "id(water) or not image(ice)",
		"(id(water) and not label(water)(ice)) or image(solid)",
		"id(^water:(.*)$) or image(^ice:(.*)$)",
		// BooleanParser.scala's connectives and constants
		"!(port(8080) || ip(172.17.0.2)) && true", "true", "FALSE", "t", "0", "id(a) | id(b) & id(c)", "id(a) OR id(b)",
	} {
		if _, err := Parse(src); err != nil {
			t.Errorf("Parse(%q): %v", src, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"winter(cold)", `invalid selector 'winter(cold)': position 1: unknown selector "winter" (name, id,`},
		{"port(eighty)", "position 6: expected a number"},
		{"label(a)", "position 9: expected '(' and the label's value"},
		{"name(a(b)c(d))", "position 11: expected ')'"},
		{"name(a) and ", "position 13: expected a selector"},
		{"name(a) and", `position 9: unexpected "and"`}, // Vamp wants a blank after and
		{"name(a) andname(b)", `position 9: unexpected "andname(b)"`},
		{"(name(a)", "position 9: expected ')'"},
		{"image([)", `"[" is not a regular expression Turnout reads`},
		{"", "position 1: expected a selector"},
	} {
		_, err := Parse(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): %v, want an error with %q", tc.src, err, tc.want)
		}
	}
}

// vampGroups is RouteSelectionProcessorSpec.scala's routing groups
// (operation/src/test/scala/io/vamp/operation/gateway): two apps of two
// instances with two ports each, as Instances (Port is the app's port,
// Addr the instance's).
func vampGroups() []Instance {
	var out []Instance
	add := func(name, kind, ns, image string, labels map[string]string, ips []string, ports [][2]int) {
		for i, ip := range ips {
			for idx, p := range ports[i*2 : i*2+2] {
				out = append(out, Instance{Name: name, Kind: kind, Namespace: ns, Labels: labels, Image: image,
					IP: ip, Port: p[0], Index: idx, Addr: ip + ":" + strconv.Itoa(p[1])})
			}
		}
	}
	add("sava:1.0", "app", "default", "magneticio/sava:1.0.0",
		map[string]string{"io.vamp.deployment": "sava:1.0", "io.vamp.cluster": "sava", "io.vamp.service": "sava:1.0.0"},
		[]string{"172.17.0.1", "172.17.0.2"}, [][2]int{{8080, 8180}, {8081, 8181}, {8080, 8280}, {8081, 8281}})
	add("sava:1.1", "pod", "vamp", "magneticio/sava:1.1.0",
		map[string]string{"io.vamp.deployment": "sava:1.1", "io.vamp.cluster": "sava", "io.vamp.service": "sava:1.1.0", "sava": "1.1"},
		[]string{"172.17.0.3", "172.17.0.4"}, [][2]int{{8080, 8380}, {8081, 8381}, {8080, 8480}, {8081, 8481}})
	return out
}

// RouteSelectionProcessorSpec.scala's "select by ..." cases: the same
// instances selected.
func TestSelectVampSpec(t *testing.T) {
	all := vampGroups()
	for _, tc := range []struct {
		selector string
		want     []string
	}{
		{"name(sava:1.0)", []string{"172.17.0.1:8180", "172.17.0.1:8181", "172.17.0.2:8280", "172.17.0.2:8281"}},
		{"kind(pod)", []string{"172.17.0.3:8380", "172.17.0.3:8381", "172.17.0.4:8480", "172.17.0.4:8481"}},
		{"namespace(default)", []string{"172.17.0.1:8180", "172.17.0.1:8181", "172.17.0.2:8280", "172.17.0.2:8281"}},
		{"image(magneticio/sava:1.0.*)", []string{"172.17.0.1:8180", "172.17.0.1:8181", "172.17.0.2:8280", "172.17.0.2:8281"}},
		{"label(io.vamp.*)(sava:1.1.*)", []string{"172.17.0.3:8380", "172.17.0.3:8381", "172.17.0.4:8480", "172.17.0.4:8481"}},
		{"ip(172.17.0.1)", []string{"172.17.0.1:8180", "172.17.0.1:8181"}},
		{"port(8080)", []string{"172.17.0.1:8180", "172.17.0.2:8280", "172.17.0.3:8380", "172.17.0.4:8480"}},
		{"port(8080) or ip(172.17.0.2)", []string{"172.17.0.1:8180", "172.17.0.2:8280", "172.17.0.2:8281", "172.17.0.3:8380", "172.17.0.4:8480"}},
		{"port(8080) and ip(172.17.0.2)", []string{"172.17.0.2:8280"}},
		{"!(port(8080) || ip(172.17.0.2)) && true", []string{"172.17.0.1:8181", "172.17.0.3:8381", "172.17.0.4:8481"}},
		{"true", []string{"172.17.0.1:8180", "172.17.0.1:8181", "172.17.0.2:8280", "172.17.0.2:8281", "172.17.0.3:8380", "172.17.0.3:8381", "172.17.0.4:8480", "172.17.0.4:8481"}},
		{"false", nil},
		{"port_index(0)", []string{"172.17.0.1:8180", "172.17.0.2:8280", "172.17.0.3:8380", "172.17.0.4:8480"}},
		// the "group by" cases' selections
		{"label(io.vamp.*)(sava:1.(.*)) and index(0)", []string{"172.17.0.1:8180", "172.17.0.2:8280", "172.17.0.3:8380", "172.17.0.4:8480"}},
		// a regular expression matches the whole value
		{"name(sava)", nil},
		{"image(sava)", nil},
	} {
		s, err := Parse(tc.selector)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.selector, err)
		}
		var got []string
		for i := range all {
			if s.Matches(&all[i]) {
				got = append(got, all[i].Addr)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s selects %v, want %v", tc.selector, got, tc.want)
		}
	}
}

// An image operand selects no instance without an image, and "not" of it
// every such instance, as Vamp's set complement does.
func TestImageOfAnImagelessApp(t *testing.T) {
	in := &Instance{Name: "cmd-app", Kind: "app"}
	for src, want := range map[string]bool{"image(.*)": false, "not image(.*)": true} {
		s, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Matches(in); got != want {
			t.Errorf("%s on an app without an image: %v, want %v", src, got, want)
		}
	}
}
