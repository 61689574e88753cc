package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/condition"
)

// errorCase is a malformed input and the exact error Decode gives for it.
type errorCase struct {
	name   string
	source string
	in     string
	want   string
}

var errorCases = []errorCase{
	// name
	{"name missing", "gw.yaml", "port: 8080\n",
		`gw.yaml:1:1: name: name is required`},
	{"name empty", "gw.yaml", "name: \"\"\n",
		`gw.yaml:1:7: name: name is required`},
	{"name null", "gw.yaml", "name:\nport: 8080\n",
		`gw.yaml:1:6: name: name is required`},
	{"name with space", "gw.yaml", "name: a b\n",
		`gw.yaml:1:7: gateway "a b": name: name must not contain whitespace or square brackets, got "a b"`},
	{"name with brackets", "gw.yaml", "name: \"[a]\"\n",
		`gw.yaml:1:7: gateway "[a]": name: name must not contain whitespace or square brackets, got "[a]"`},
	{"name five segments", "gw.yaml", "name: a/b/c/d/e\n",
		`gw.yaml:1:7: gateway "a/b/c/d/e": name: name must have at most 4 "/"-separated parts, got "a/b/c/d/e"`},
	{"name empty segment", "gw.yaml", "name: a//b\n",
		`gw.yaml:1:7: gateway "a//b": name: name must not have empty "/"-separated parts, got "a//b"`},
	{"name a list", "gw.yaml", "name: [a]\n",
		`gw.yaml:1:7: name: name must be a string, got a list`},

	// port
	{"port out of range", "gw.yaml", "name: a\nport: 70000\n",
		`gw.yaml:2:7: gateway "a": port: port must be like 8080, "8080/http" or "8080/tcp" with a number 1-65535, got "70000"`},
	{"port udp", "gw.yaml", "name: a\nport: 8080/udp\n",
		`gw.yaml:2:7: gateway "a": port: port must be like 8080, "8080/http" or "8080/tcp" with a number 1-65535, got "8080/udp"`},
	{"port word", "gw.yaml", "name: a\nport: http\n",
		`gw.yaml:2:7: gateway "a": port: port must be like 8080, "8080/http" or "8080/tcp" with a number 1-65535, got "http"`},
	{"port negative", "gw.yaml", "name: a\nport: -1\n",
		`gw.yaml:2:7: gateway "a": port: port must be like 8080, "8080/http" or "8080/tcp" with a number 1-65535, got "-1"`},
	{"port float", "gw.yaml", "name: a\nport: 8080.5\n",
		`gw.yaml:2:7: gateway "a": port: port must be like 8080, "8080/http" or "8080/tcp" with a number 1-65535, got "8080.5"`},
	{"port a list", "gw.yaml", "name: a\nport: [8080]\n",
		`gw.yaml:2:7: gateway "a": port: port must be a number like 8080 or a string like "8080/http", got a list`},

	// unknown and duplicate fields
	{"unknown top-level field", "gw.yaml", "name: a\ncolour: red\n",
		`gw.yaml:2:1: gateway "a": unknown field "colour" (supported: name, port, sticky, virtual_hosts, routes, policy)`},
	{"unknown route field", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    wieght: 50%\n",
		`gw.yaml:4:5: gateway "a": routes."[a:1]": unknown field "wieght" (supported: weight, condition, condition_strength, rewrites, balance, timeout, retries, require_ready, selector, mirror, reference)`},
	{"vamp 0.8 filters", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    filters: [user-agent == Firefox]\n",
		`gw.yaml:4:5: gateway "a": routes."[a:1]": unknown field "filters": Vamp 0.9 renamed it "condition"`},
	{"vamp gateway selector", "gw.yaml", "name: a\nselector: label(app)(sava)\n",
		`gw.yaml:2:1: gateway "a": unknown field "selector": a gateway's selector (Vamp making one route per group of the instances it selects) is not supported by Turnout; a route's selector is`},
	// route selectors: Vamp's InvalidSelectorError, RouteSelectorExternalTargetError
	// and RouteSelectorOnlyRouteError (GatewayReader.scala), with where.
	{"invalid route selector", "gw.yaml", "name: a\nroutes:\n  sava:\n    selector: winter(cold)\n",
		`gw.yaml:4:15: gateway "a": routes."sava".selector: invalid selector 'winter(cold)': position 1: unknown selector "winter" (name, id, kind, type, namespace, group, image, label, ip, host, port, port_index, index, true, false)`},
	{"mirror to nowhere", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    mirror: {route: \"[b:1]\", share: 10%}\n",
		`gw.yaml:4:13: gateway "a": routes."[a:1]".mirror: mirror: no route "[b:1]" in the gateway (mirrored copies go to another route of it)`},
	{"mirror on tcp", "gw.yaml", "name: a\nport: 8080/tcp\nroutes:\n  \"[a:1]\":\n    mirror: \"[b:1]\"\n  \"[b:1]\": {}\n",
		`gw.yaml:5:13: gateway "a": routes."[a:1]".mirror: a mirror needs an http port`},
	{"selector of an external target", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    selector: label(app)(sava)\n",
		`gw.yaml:3:3: gateway "a": routes."[a:1]".selector: a route selector cannot be defined for an external target: key the route by a name, like "shop"`},
	{"selector of a path", "gw.yaml", "name: a\nroutes:\n  sava/web:\n    selector: label(app)(sava)\n",
		`gw.yaml:3:3: gateway "a": routes."sava/web".selector: if a route selector is defined, the route key must be a name without '/' or a scheme, like "shop"`},
	{"duplicate route keys", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    weight: 50%\n  \"[b:2]\":\n    weight: 50%\n  \"[a:1]\":\n    weight: 50%\n",
		`gw.yaml:7:3: gateway "a": routes: duplicate route "[a:1]" (first at line 3)`},
	{"duplicate route keys in list form", "gw.yaml", "name: a\nroutes:\n- \"[a:1]\"\n- \"[a:1]\"\n",
		`gw.yaml:4:3: gateway "a": routes: duplicate route "[a:1]" (first at line 3)`},
	{"duplicate top-level field", "gw.yaml", "name: a\nport: 8080\nport: 8081\n",
		`gw.yaml:3:1: gateway "a": duplicate field "port" (first at line 2)`},
	{"duplicate route field", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    weight: 50%\n    weight: 100%\n",
		`gw.yaml:5:5: gateway "a": routes."[a:1]": duplicate field "weight" (first at line 4)`},
	{"merge key", "gw.yaml", "name: a\n<<: {port: 8080}\n",
		`gw.yaml:2:1: gateway "a": merge keys (<<) are not supported`},
	{"kind not a gateway", "gw.yaml", "name: a\nkind: blueprints\n",
		`gw.yaml:2:7: gateway "a": kind: kind must be "gateway" or "gateways", got "blueprints"`},

	// routes and targets
	{"routes shorthand with a bad key", "gw.yaml", "name: a\nroutes: 10.0.0.1:80\n",
		`gw.yaml:2:9: gateway "a": routes."10.0.0.1:80": unsupported route target "10.0.0.1:80": use "[host:port]", a gateway's name, "minuteman:/app:port", "marathon-lb:/app", "marathon:/app" or "consul:service"`},
	{"route a list", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\": [other]\n",
		`gw.yaml:3:12: gateway "a": routes."[a:1]": a route must be a mapping of route fields or the name of a stored route, got a list`},
	{"routes list element a list", "gw.yaml", "name: a\nroutes:\n- [x, y]\n",
		`gw.yaml:3:3: gateway "a": routes[0]: a route must be a route key or a mapping of route keys to routes, got a list`},
	{"routes list element unquoted key", "gw.yaml", "name: a\nroutes:\n- [x]\n",
		`gw.yaml:3:3: gateway "a": routes."[x]": route target "[x]" needs a port, like "[host:port]"`},
	{"routes list element null", "gw.yaml", "name: a\nroutes:\n- \"[a:1]\"\n- ~\n",
		`gw.yaml:4:3: gateway "a": routes[1]: a route must be a route key or a mapping of route keys to routes, got null`},
	{"gateway reference loop", "gw.yaml", "name: a\nport: 9001\nroutes: b\n---\nname: b\nport: 9002\nroutes:\n  c: {}\n---\nname: c\nport: 9003\nroutes: [a]\n",
		`gw.yaml:1:7: gateway "a": routes: routes through gateways come back to it: a -> b -> c -> a` + "\n" +
			`gw.yaml:5:7: gateway "b": routes: routes through gateways come back to it: b -> c -> a -> b` + "\n" +
			`gw.yaml:10:7: gateway "c": routes: routes through gateways come back to it: c -> a -> b -> c`},
	{"gateway reference to itself", "gw.yaml", "name: a\nroutes: a\n",
		`gw.yaml:1:7: gateway "a": routes: routes through gateways come back to it: a -> a`},
	{"static target without port", "gw.yaml", "name: a\nroutes:\n  \"[a]\": {}\n",
		`gw.yaml:3:3: gateway "a": routes."[a]": route target "[a]" needs a port, like "[host:port]"`},
	{"static target port 0", "gw.yaml", "name: a\nroutes:\n  \"[a:0]\": {}\n",
		`gw.yaml:3:3: gateway "a": routes."[a:0]": route target "[a:0]": port must be 1-65535, got "0"`},
	{"static target port word", "gw.yaml", "name: a\nroutes:\n  \"[a:http]\": {}\n",
		`gw.yaml:3:3: gateway "a": routes."[a:http]": route target "[a:http]": port must be 1-65535, got "http"`},
	{"static target empty host", "gw.yaml", "name: a\nroutes:\n  \"[:80]\": {}\n",
		`gw.yaml:3:3: gateway "a": routes."[:80]": route target "[:80]" needs a host, like "[host:port]"`},
	{"static target bad host", "gw.yaml", "name: a\nroutes:\n  \"[a b:80]\": {}\n",
		`gw.yaml:3:3: gateway "a": routes."[a b:80]": route target "[a b:80]": invalid host "a b"`},
	{"static ipv6 without brackets", "gw.yaml", "name: a\nroutes:\n  \"[::1:80]\": {}\n",
		`gw.yaml:3:3: gateway "a": routes."[::1:80]": route target "[::1:80]": write an IPv6 address in brackets, like "[[::1]:80]"`},
	{"plugin target without ref", "gw.yaml", "name: a\nroutes:\n  \"minuteman:\": {}\n",
		`gw.yaml:3:3: gateway "a": routes."minuteman:": route target "minuteman:" needs a reference after "minuteman:"`},

	// weights
	{"weight bare number", "gw.yaml", "name: simpleservice\nport: 8080\nroutes:\n  \"[a:1]\":\n    weight: 50\n  \"[b:1]\":\n    weight: 50%\n",
		`gw.yaml:5:13: gateway "simpleservice": routes."[a:1]".weight: weight must be a percentage like "50%", got "50"`},
	{"weight over 100", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    weight: 150%\n",
		`gw.yaml:4:13: gateway "a": routes."[a:1]".weight: weight must be between 0% and 100%, got "150%"`},
	{"weight three decimals", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    weight: 0.125%\n",
		`gw.yaml:4:13: gateway "a": routes."[a:1]".weight: weight must be a percentage like "50%" with at most 2 decimals, got "0.125%"`},
	{"weight negative", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    weight: -5%\n",
		`gw.yaml:4:13: gateway "a": routes."[a:1]".weight: weight must be a percentage like "50%", got "-5%"`},
	{"weights total 90", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    weight: 40%\n  \"[b:1]\":\n    weight: 50%\n",
		`gw.yaml:2:1: gateway "a": routes: total route weight must be 0% or 100%, got 90%`},
	{"weights total over 100", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    weight: 99.5%\n  \"[b:1]\":\n    weight: 0.75%\n",
		`gw.yaml:2:1: gateway "a": routes: total route weight must be 0% or 100%, got 100.25%`},
	{"mixed weights one missing", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    weight: 60%\n  \"[b:1]\": {}\n",
		`gw.yaml:2:1: gateway "a": routes: route "[b:1]" has no weight, so the other weights must total 100%, got 60%`},
	{"mixed weights two missing", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\": {}\n  \"[b:1]\":\n    weight: 0%\n  \"[c:1]\":\n",
		`gw.yaml:2:1: gateway "a": routes: routes "[a:1]" and "[c:1]" have no weight, so the other weights must total 100%, got 0%`},

	// conditions
	{"condition syntax error", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    condition: user-agent ==\n",
		`gw.yaml:4:16: gateway "a": routes."[a:1]".condition: invalid condition "user-agent ==": position 14: expected a value after "==", found end of input`},
	{"condition output form syntax error", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    condition:\n      condition: header == x\n",
		`gw.yaml:5:18: gateway "a": routes."[a:1]".condition: invalid condition "header == x": position 11: expected "==", "!=", "has", "misses", "~" or "!~" after "==", found "x"`},
	{"condition a list", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    condition: [a, b]\n",
		`gw.yaml:4:16: gateway "a": routes."[a:1]".condition: condition must be a string, {condition: "..."} or {reference: NAME}, got a list`},
	{"condition mapping unknown field", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    condition:\n      definition: host == a\n",
		`gw.yaml:5:7: gateway "a": routes."[a:1]".condition: unknown field "definition" (supported: condition, reference)`},
	{"condition_strength not a percentage", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    condition: host == a\n    condition_strength: half\n",
		`gw.yaml:5:25: gateway "a": routes."[a:1]".condition_strength: condition_strength must be a percentage like "50%", got "half"`},
	{"condition_strength over 100", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    condition: host == a\n    condition_strength: 101%\n",
		`gw.yaml:5:25: gateway "a": routes."[a:1]".condition_strength: condition_strength must be between 0% and 100%, got "101%"`},
	{"condition on tcp", "gw.yaml", "name: a\nport: 5432/tcp\nroutes:\n  \"[a:1]\":\n    condition: host == a\n",
		`gw.yaml:5:16: gateway "a": routes."[a:1]".condition: conditions need an http port`},

	// sticky
	{"sticky on tcp", "gw.yaml", "name: a\nport: 5432/TCP\nsticky: route\n",
		`gw.yaml:3:9: gateway "a": sticky: sticky sessions are not allowed on a tcp port`},
	{"sticky bad value", "gw.yaml", "name: a\nsticky: cookie\n",
		`gw.yaml:2:9: gateway "a": sticky: sticky must be route, instance or none, got "cookie"`},
	{"sticky a mapping", "gw.yaml", "name: a\nsticky: {route: true}\n",
		`gw.yaml:2:9: gateway "a": sticky: sticky must be route, instance or none, got a mapping`},

	// virtual hosts
	{"virtual_hosts a mapping", "gw.yaml", "name: a\nvirtual_hosts:\n  a.example.com: true\n",
		`gw.yaml:3:3: gateway "a": virtual_hosts: virtual_hosts must be a host name or a list of host names, got a mapping`},
	{"virtual host invalid", "gw.yaml", "name: a\nvirtual_hosts: [ok.example.com, \"bad host\"]\n",
		`gw.yaml:2:33: gateway "a": virtual_hosts[1]: virtual host must be a host name like "example.com" or "*.example.com", got "bad host"`},
	{"virtual host duplicate", "gw.yaml", "name: a\nvirtual_hosts: [A.example.com, a.example.com]\n",
		`gw.yaml:2:32: gateway "a": virtual_hosts[1]: duplicate virtual host "a.example.com"`},
	{"virtual host with port", "gw.yaml", "name: a\nvirtual_hosts: a.example.com:80\n",
		`gw.yaml:2:16: gateway "a": virtual_hosts: virtual host must be a host name like "example.com" or "*.example.com", got "a.example.com:80"`},
	{"virtual hosts on tcp", "gw.yaml", "name: a\nport: 9000/tcp\nvirtual_hosts: a.example.com\n",
		`gw.yaml:3:16: gateway "a": virtual_hosts: virtual hosts need an http port`},

	// rewrites
	{"rewrite without if", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    rewrites:\n    - path: /new\n",
		`gw.yaml:5:13: gateway "a": routes."[a:1]".rewrites[0].path: rewrite path must read "NEW if CONDITION", got "/new"`},
	{"rewrites a string", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    rewrites: /new if host == a\n",
		`gw.yaml:4:15: gateway "a": routes."[a:1]".rewrites: rewrites must be a list of {path: "NEW if CONDITION"}, got "/new if host == a"`},
	{"rewrite unknown field", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    rewrites:\n    - host: /new if host == a\n",
		`gw.yaml:5:7: gateway "a": routes."[a:1]".rewrites[0]: unknown field "host" (supported: path)` + "\n" +
			`gw.yaml:5:7: gateway "a": routes."[a:1]".rewrites[0].path: a rewrite needs path: "NEW if CONDITION"`},
	{"rewrite bad condition", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    rewrites:\n    - path: /new if host ==\n",
		`gw.yaml:5:13: gateway "a": routes."[a:1]".rewrites[0].path: invalid condition "host ==": position 8: expected a value after "==", found end of input`},
	{"rewrite on tcp", "gw.yaml", "name: a\nport: 9000/tcp\nroutes:\n  \"[a:1]\":\n    rewrites:\n    - path: /new if host == a\n",
		`gw.yaml:6:5: gateway "a": routes."[a:1]".rewrites: rewrites need an http port`},

	// balance, timeout, retries
	{"balance bad", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    balance: source\n",
		`gw.yaml:4:14: gateway "a": routes."[a:1]".balance: balance must be default, roundrobin or leastconn, got "source"`},
	{"timeout bare number", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    timeout: 5\n",
		`gw.yaml:4:14: gateway "a": routes."[a:1]".timeout: timeout must be a duration like "5s", got "5"`},
	{"timeout zero", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    timeout: 0s\n",
		`gw.yaml:4:14: gateway "a": routes."[a:1]".timeout: timeout must be more than 0s, got "0s"`},
	{"retries too many", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    retries: 11\n",
		`gw.yaml:4:14: gateway "a": routes."[a:1]".retries: retries must be a whole number from 0 to 10, got "11"`},
	{"retries not a number", "gw.yaml", "name: a\nroutes:\n  \"[a:1]\":\n    retries: three\n",
		`gw.yaml:4:14: gateway "a": routes."[a:1]".retries: retries must be a whole number from 0 to 10, got "three"`},

	// across gateways
	{"duplicate ports in a list", "gws.yaml", "- name: a\n  port: 8080\n- name: b\n  port: 8080/tcp\n",
		`gws.yaml:4:9: gateway "b": port: port 8080 is used by gateways a and b`},
	{"duplicate names in a stream", "gws.yaml", "name: a\nport: 8080\n---\nname: a\nport: 8081\n",
		`gws.yaml:4:7: gateway "a": name: duplicate gateway name "a" (first at line 1)`},

	// document shape and syntax
	{"yaml syntax error", "gw.yaml", "name: a\n  port: 8080\n",
		`gw.yaml:2: syntax error: mapping values are not allowed in this context`},
	{"json syntax error", "gw.json", "{\"name\": \"a\",\n \"port\": 8080,,\n}\n",
		`gw.json:2: syntax error: did not find expected node content`},
	{"top level scalar", "gw.yaml", "hello\n",
		`gw.yaml:1:1: expected a gateway (a mapping) or a list of gateways, got "hello"`},
	{"list element not a mapping", "gws.yaml", "- name: a\n- b\n",
		`gws.yaml:2:3: expected a gateway (a mapping), got "b"`},

	// formats and collection
	{"api body has no source", "", "name: a\nroutes:\n  \"[a:1]\":\n    weight: 50\n",
		`line 4:13: gateway "a": routes."[a:1]".weight: weight must be a percentage like "50%", got "50"`},
	{"json body", "", "{\n  \"name\": \"a\",\n  \"routes\": {\"[a:1]\": {\"weight\": 50}}\n}\n",
		`line 3:34: gateway "a": routes."[a:1]".weight: weight must be a percentage like "50%", got "50"`},
	{"every error is reported in order", "gw.yaml", "name: a\nsticky: sometimes\nroutes:\n  \"[a:1]\":\n    weight: 50\n    balance: random\nport: 99999\n",
		`gw.yaml:2:9: gateway "a": sticky: sticky must be route, instance or none, got "sometimes"` + "\n" +
			`gw.yaml:5:13: gateway "a": routes."[a:1]".weight: weight must be a percentage like "50%", got "50"` + "\n" +
			`gw.yaml:6:14: gateway "a": routes."[a:1]".balance: balance must be default, roundrobin or leastconn, got "random"` + "\n" +
			`gw.yaml:7:7: gateway "a": port: port must be like 8080, "8080/http" or "8080/tcp" with a number 1-65535, got "99999"`},
}

func TestDecodeErrors(t *testing.T) {
	if len(errorCases) < 35 {
		t.Fatalf("only %d error cases", len(errorCases))
	}
	for _, c := range errorCases {
		t.Run(c.name, func(t *testing.T) {
			gws, err := Decode([]byte(c.in), c.source)
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", gws)
			}
			if gws != nil {
				t.Errorf("Decode returned gateways with an error: %+v", gws)
			}
			if got := err.Error(); got != c.want {
				t.Errorf("error\n got: %s\nwant: %s", got, c.want)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != strings.Count(c.want, "\n")+1 {
				t.Errorf("error is not an ErrorList of one *FieldError per line: %#v", err)
			}
		})
	}
}

// A condition's syntax error stays reachable under the field error, with
// its own position, for callers (the API) that show it separately.
func TestConditionErrorUnwraps(t *testing.T) {
	in := "name: a\nroutes:\n  \"[a:1]\":\n    condition: user-agent ==\n"
	_, err := Decode([]byte(in), "gw.yaml")
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("no *FieldError in %v", err)
	}
	if fe.Source != "gw.yaml" || fe.Line != 4 || fe.Column != 16 || fe.Gateway != "a" || fe.Field != `routes."[a:1]".condition` {
		t.Errorf("field error = %+v", fe)
	}
	var se *condition.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("no *condition.SyntaxError in %v", err)
	}
	if se.Src != "user-agent ==" || se.Pos != 14 {
		t.Errorf("syntax error = %+v", se)
	}
}

func TestCrossFieldErrorsAreValues(t *testing.T) {
	in := "name: a\nport: 22/tcp\nsticky: route\n"
	_, err := Decode([]byte(in), "")
	if !errors.Is(err, ErrStickyTCP) {
		t.Errorf("errors.Is(%v, ErrStickyTCP) = false", err)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	base := errors.New("boom")
	for _, c := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Source: "f.yaml", Line: 5, Column: 7, Gateway: "g", Field: "port", Err: base}, `f.yaml:5:7: gateway "g": port: boom`},
		{FieldError{Source: "f.yaml", Line: 5, Err: base}, `f.yaml:5: boom`},
		{FieldError{Source: "f.yaml", Err: base}, `f.yaml: boom`},
		{FieldError{Line: 5, Column: 7, Field: "name", Err: base}, `line 5:7: name: boom`},
		{FieldError{Line: 5, Err: base}, `line 5: boom`},
		{FieldError{Gateway: "g", Err: base}, `gateway "g": boom`},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
