package gateway

import "testing"

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		key  string
		want Target
		err  string
	}{
		{key: "[10.0.0.1:3000]", want: Target{Kind: Static, Host: "10.0.0.1", Port: 3000}},
		{key: "[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]", want: Target{Kind: Static, Host: "simple-service-1.0.0.marathon.l4lb.thisdcos.directory", Port: 3000}},
		{key: "[localhost:65535]", want: Target{Kind: Static, Host: "localhost", Port: 65535}},
		{key: "[host.example.com.:80]", want: Target{Kind: Static, Host: "host.example.com.", Port: 80}},
		{key: "[_svc.example.com:80]", want: Target{Kind: Static, Host: "_svc.example.com", Port: 80}},
		{key: "[[::1]:80]", want: Target{Kind: Static, Host: "::1", Port: 80}},
		{key: "[[fe80::1%eth0]:80]", want: Target{Kind: Static, Host: "fe80::1%eth0", Port: 80}},
		{key: "minuteman:/simple-service:3000", want: Target{Kind: Minuteman, Ref: "/simple-service:3000"}},
		{key: "marathon-lb:/group/app:1", want: Target{Kind: MarathonLB, Ref: "/group/app:1"}},
		{key: "marathon:/app", want: Target{Kind: Marathon, Ref: "/app"}},
		{key: "consul:web?tag=v2&dc=eu", want: Target{Kind: Consul, Ref: "web?tag=v2&dc=eu"}},
		// Vamp's GatewayPath (docs: 1 part a gateway, 2 deployment/port,
		// 3 deployment/cluster/port): gateways by name.
		{key: "sava", want: Target{Kind: GatewayRef, Ref: "sava"}},
		{key: "sava/webport", want: Target{Kind: GatewayRef, Ref: "sava/webport"}},
		{key: "sava/sava/webport", want: Target{Kind: GatewayRef, Ref: "sava/sava/webport"}},
		// 4 parts: the service's instances, through the reference scheme.
		{key: "sava/sava/web/webport", want: Target{Kind: Marathon, Ref: "/sava/sava/web:webport"}},
		{key: "sava//webport", err: `unsupported route target "sava//webport": ` + errUnsupportedTarget.Error()},
		{key: "a b", err: `unsupported route target "a b": ` + errUnsupportedTarget.Error()},

		{key: "[a:65536]", err: `route target "[a:65536]": port must be 1-65535, got "65536"`},
		{key: "[a:-1]", err: `route target "[a:-1]": port must be 1-65535, got "-1"`},
		{key: "[a:]", err: `route target "[a:]": port must be 1-65535, got ""`},
		{key: "[]", err: `route target "[]" needs a port, like "[host:port]"`},
		{key: "[-a.com:80]", err: `route target "[-a.com:80]": invalid host "-a.com"`},
		{key: "[a..com:80]", err: `route target "[a..com:80]": invalid host "a..com"`},
		{key: "[[a.com]:80]", err: `route target "[[a.com]:80]": invalid host "a.com"`},
		{key: "[[10.0.0.1]:80]", err: `route target "[[10.0.0.1]:80]": only IPv6 addresses go in brackets`},
		{key: "[::1]", err: `route target "[::1]": write an IPv6 address in brackets, like "[[::1]:80]"`},
		{key: "MINUTEMAN:/a:1", err: `unsupported route target "MINUTEMAN:/a:1": ` + errUnsupportedTarget.Error()},
		{key: "dns:/a", want: Target{Kind: "dns", Ref: "/a"}}, // a third party's scheme: the engine checks a plugin has it
		{key: "Dns:/a", err: `unsupported route target "Dns:/a": ` + errUnsupportedTarget.Error()},
		{key: "consul: ", err: `route target "consul: " needs a reference after "consul:"`},
		{key: "10.0.0.1:80", err: `unsupported route target "10.0.0.1:80": ` + errUnsupportedTarget.Error()},
		{key: "", err: `unsupported route target "": ` + errUnsupportedTarget.Error()},
	} {
		got, err := ParseTarget(c.key)
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("ParseTarget(%q) error = %v, want %s", c.key, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", c.key, got, err, c.want)
		}
	}
}
