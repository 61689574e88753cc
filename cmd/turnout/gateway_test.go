package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/api"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

const (
	r100 = "[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]"
	r110 = "[simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000]"
)

func seedGateway(t *testing.T) *gateway.Gateway {
	t.Helper()
	g, err := gateway.DecodeOne([]byte(seed(8080, "50%", "50%")), "")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGatewayWeightsParsing(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string // route key -> weight after the edit
		err  string            // part of the usage error
	}{
		{in: "1.0.0@90%,1.1.0@10%", want: map[string]string{r100: "90%", r110: "10%"}},
		{in: "1.0.0=90%,1.1.0=10%", want: map[string]string{r100: "90%", r110: "10%"}},
		{in: " 1.0.0 @ 33.33% , 1.1.0=66.67%", want: map[string]string{r100: "33.33%", r110: "66.67%"}},
		{in: r100 + "@70%," + r110 + "@30%", want: map[string]string{r100: "70%", r110: "30%"}},
		// Routes not named keep their weight; the server checks the total.
		{in: "1.0.0@40%", want: map[string]string{r100: "40%", r110: "50%"}},
		{in: "simple-service@90%", err: "is ambiguous: it matches\n  " + r100 + "\n  " + r110},
		{in: "2.0.0@90%", err: "has no route \"2.0.0\"; its routes are:\n  " + r100 + "\n  " + r110},
		{in: "1.0.0@90", err: `weight must be a percentage like "50%"`},
		{in: "1.0.0@150%", err: "between 0% and 100%"},
		{in: "1.0.0@abc%", err: "weight must be a percentage"},
		{in: "1.0.0", err: "want ROUTE@WEIGHT or ROUTE=WEIGHT"},
		{in: "@50%", err: "want ROUTE@WEIGHT"},
		{in: "1.0.0@50%,", err: "want ROUTE@WEIGHT"},
		{in: "1.0.0@50%,1.0.0=50%", err: "names route " + r100 + " twice"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			g := seedGateway(t)
			specs, err := parseWeights(tc.in)
			if err == nil {
				err = setWeights(g, specs)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if code := exitCode(err); code != exitUsage {
					t.Fatalf("exit code %d, want %d", code, exitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range g.Routes {
				if got := r.Weight.String(); got != tc.want[r.Name] {
					t.Errorf("%s: weight %s, want %s", r.Name, got, tc.want[r.Name])
				}
			}
		})
	}
}

// A full key wins over a substring match: "[a:1]" is in "[a:10]" too.
func TestGatewayRouteExactKeyWins(t *testing.T) {
	g := &gateway.Gateway{Name: "g", Routes: []gateway.Route{{Name: "[a:10]"}, {Name: "[a:1]"}}}
	if i, err := findRoute(g, "[a:1]"); err != nil || i != 1 {
		t.Fatalf("got %d, %v", i, err)
	}
	if _, err := findRoute(g, "a:1"); err == nil {
		t.Fatal("a:1 is in both keys but was not refused as ambiguous")
	}
}

func TestGatewayUpdateFlagCombinations(t *testing.T) {
	type flags struct {
		updateFlags
		weights, route, cond, strength bool
	}
	for _, tc := range []struct {
		name string
		f    flags
		err  string
		// check runs on the seed gateway after the edit.
		check func(*gateway.Gateway) string
	}{
		{name: "weights and condition", f: flags{updateFlags{weights: "1.0.0@90%", condition: "x"}, true, false, true, false},
			err: "cannot be combined"},
		{name: "nothing", err: "give --weights, or --route"},
		{name: "route alone", f: flags{updateFlags{route: "1.1.0"}, false, true, false, false}, err: "give --condition and/or --strength"},
		{name: "empty condition", f: flags{updateFlags{route: "1.1.0", condition: " "}, false, true, true, false}, err: "--condition is empty"},
		{name: "null with strength", f: flags{updateFlags{route: "1.1.0", condition: "null", strength: "50%"}, false, true, true, true}, err: "no meaning"},
		{name: "bad strength", f: flags{updateFlags{route: "1.1.0", condition: "x", strength: "half"}, false, true, true, true}, err: "strength must be a percentage"},
		{name: "strength without a condition", f: flags{updateFlags{route: "1.1.0", strength: "50%"}, false, true, false, true}, err: "has no condition"},
		{name: "condition defaults to 100%", f: flags{updateFlags{route: "1.1.0", condition: "user-agent == Firefox"}, false, true, true, false},
			check: func(g *gateway.Gateway) string {
				return g.Routes[1].Condition + " " + g.Routes[1].ConditionStrength.String()
			}},
		{name: "condition and strength", f: flags{updateFlags{route: "1.1.0", condition: "user-agent == Firefox", strength: "25%"}, false, true, true, true},
			check: func(g *gateway.Gateway) string {
				return g.Routes[1].Condition + " " + g.Routes[1].ConditionStrength.String()
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edit, err := tc.f.edit(tc.f.weights, tc.f.route, tc.f.cond, tc.f.strength)
			g := seedGateway(t)
			if err == nil {
				err = edit(g)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || exitCode(err) != exitUsage {
					t.Fatalf("error %v (exit %d), want a usage error containing %q", err, exitCode(err), tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"condition defaults to 100%": "user-agent == Firefox 100%", "condition and strength": "user-agent == Firefox 25%"}[tc.name]
			if got := tc.check(g); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestGatewayTableOutput(t *testing.T) {
	g := seedGateway(t)
	g.Routes[1].Condition, g.Routes[1].ConditionStrength = "user-agent == Firefox", 5000
	var b bytes.Buffer
	if err := describeGateway(&b, g, 3); err != nil {
		t.Fatal(err)
	}
	want := `gateway/simpleservice  port 8080/http  sticky -  revision 3
ROUTE                                                         WEIGHT  CONDITION              STRENGTH
[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]  50%     -                      -
[simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000]  50%     user-agent == Firefox  50%
`
	if b.String() != want {
		t.Errorf("describe:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	other := &gateway.Gateway{Name: "tcp-db", Port: gateway.Port{Number: 5432, Protocol: gateway.TCP}, Sticky: gateway.StickyRoute}
	if err := printGateways(&b, "table", []*gateway.Gateway{g, other}); err != nil {
		t.Fatal(err)
	}
	want = `NAME           PORT       ROUTES  STICKY
simpleservice  8080/http  2       -
tcp-db         5432/tcp   0       route
`
	if b.String() != want {
		t.Errorf("list:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	printHistory(&b, []revisionInfo{{1, "2025-01-02T03:04:05.000000000Z", false, "", "alice"}, {12, "2025-01-02T03:04:06.000000000Z", true, "policy canary: rollback", ""}})
	want = `REVISION  TIME                            DELETED  AUTHOR  REASON
1         2025-01-02T03:04:05.000000000Z  no       alice   -
12        2025-01-02T03:04:06.000000000Z  yes      -       policy canary: rollback
`
	if b.String() != want {
		t.Errorf("history:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestGatewayAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9880":         "http://127.0.0.1:9880",
		"http://10.0.0.1:9880/":  "http://10.0.0.1:9880",
		"https://turnout.local":  "https://turnout.local",
		"turnout.marathon:9880/": "http://turnout.marathon:9880",
	} {
		c, err := newClient(in, "", "", 0)
		if err != nil || c.base != want {
			t.Errorf("%q: %v %v, want %s", in, c, err, want)
		}
	}
	if _, err := newClient("ftp://x", "", "", 0); exitCode(err) != exitUsage {
		t.Errorf("ftp://x: %v", err)
	}
}

func TestGatewayExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{errors.New("listen tcp :80: permission denied"), 1},
		{errors.New(`unknown command "x" for "turnout"`), 2},
		{errors.New("unknown flag: --x"), 2},
		{usageErrorf("bad"), 2},
		{&exitError{code: exitUnreachable, err: errors.New("x")}, 3},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.err, got, tc.want)
		}
	}
}

// cli runs the command line in process against an API server.
func cli(t *testing.T, addr string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCommand()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(append(args[:1:1], append([]string{"--addr", addr}, args[1:]...)...))
	if err := root.Execute(); err != nil {
		errb.WriteString("turnout: " + err.Error() + "\n")
		code = exitCode(err)
	}
	return out.String(), errb.String(), code
}

// The commands against the real API handler (in memory, no binary): fast
// checks of what the end-to-end test cannot easily provoke.
func TestGatewayCommandsAgainstTheAPI(t *testing.T) {
	srv := httptest.NewServer(api.NewGatewayAPI(store.NewMemory(), nil, nil))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(file, []byte(seed(8080, "50%", "50%")+"---\nname: other\nport: 8081/http\n"), 0o644)

	step := func(wantCode int, wantOut string, args ...string) string {
		t.Helper()
		out, errs, code := cli(t, srv.URL, args...)
		if code != wantCode || !strings.Contains(out+errs, wantOut) {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s\nwant %q", args, code, wantCode, out, errs, wantOut)
		}
		return out
	}
	step(0, "gateway/simpleservice created (revision 1)\ngateway/other created (revision 1)\n", "gateway", "apply", "-f", file)
	step(0, "gateway/simpleservice unchanged (revision 1)\ngateway/other unchanged (revision 1)\n", "gateway", "apply", "-f", file)
	step(0, "simpleservice  8080/http  2       -", "gateway", "list")
	step(0, "  90%     -", "gateway", "update", "simpleservice", "--weights", "1.0.0=90%,1.1.0=10%")
	step(1, "total route weight must be 0% or 100%", "gateway", "update", "simpleservice", "--weights", "1.0.0@40%")
	step(0, `"result":"updated","revision":3`, "gateway", "apply", "-f", file, "-o", "json")
	step(0, "condition: user-agent == Firefox", "gateway", "update", "simpleservice", "--route", "1.1.0", "--condition", "user-agent == Firefox", "-o", "yaml")
	step(1, "condition", "gateway", "update", "simpleservice", "--route", "1.1.0", "--condition", "user-agent ==")
	step(2, "is ambiguous", "gateway", "update", "simpleservice", "--route", "simple", "--condition", "null")
	step(0, "1.1.0.marathon.l4lb.thisdcos.directory:3000]  50%     -          -", "gateway", "update", "simpleservice", "--route", "1.1.0", "--condition", "null")
	step(0, "4         ", "gateway", "history", "simpleservice")
	step(0, "rolled back to revision 2", "gateway", "rollback", "simpleservice", "--to", "2")
	step(1, `gateway "nope" not found`, "gateway", "get", "nope")
	step(2, "--to: give the revision", "gateway", "rollback", "simpleservice")
	step(0, "gateway/other deleted", "gateway", "delete", "other")
	step(0, "gateway/other deleted", "gateway", "delete", "other")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: g\nport: 8080/udp\n"), 0o644)
	step(2, "bad.yaml:2:", "gateway", "apply", "-f", bad)
}

// A change made between update's read and its write is refused, not lost.
func TestGatewayUpdateRefusesAConcurrentChange(t *testing.T) {
	h := api.NewGatewayAPI(store.NewMemory(), nil, nil)
	var once bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PATCH" && !once {
			// Someone else writes first.
			once = true
			req := httptest.NewRequest("PUT", r.URL.Path, strings.NewReader(seed(8080, "70%", "30%")))
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	if _, errs, code := cli(t, srv.URL, "gateway", "apply", "-f", "-"); code != 2 || !strings.Contains(errs, "stdin holds no gateway") {
		t.Fatalf("apply -f - of nothing: %d %s", code, errs)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/api/v1/gateways/simpleservice", strings.NewReader(seed(8080, "50%", "50%"))))
	_, errs, code := cli(t, srv.URL, "gateway", "update", "simpleservice", "--weights", "1.0.0@90%,1.1.0@10%")
	if code != 1 || !strings.Contains(errs, "changed by someone else since revision 1 was read: retry") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

// The token goes as a bearer token, from --token or TURNOUT_TOKEN, and is
// never printed by --help as a flag default.
func TestGatewayToken(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.Header().Set("X-Total-Count", "0")
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	t.Setenv("TURNOUT_TOKEN", "from-env")
	if _, errs, code := cli(t, srv.URL, "gateway", "list", "--token", "s3cret"); code != 0 {
		t.Fatal(errs)
	}
	if out, errs, code := cli(t, srv.URL, "gateway", "list", "-o", "yaml"); code != 0 || out != "[]\n" {
		t.Fatalf("%d %q %s", code, out, errs)
	}
	if want := []string{"Bearer s3cret", "Bearer from-env"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Authorization %q, want %q", got, want)
	}
	if out, _, _ := cli(t, srv.URL, "gateway", "--help"); strings.Contains(out, "from-env") {
		t.Fatalf("--help shows the token:\n%s", out)
	}
}
