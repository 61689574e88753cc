package store

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/zktest"
)

// seedCopy writes a store worth copying: a pruned history, a deleted
// gateway, a re-created one, names with slashes, policy states with
// reasons.
func seedCopy(t *testing.T, s Store) {
	t.Helper()
	for i := 1; i <= HistoryLimit+3; i++ {
		c := put("team/web", fmt.Sprintf(`{"w":%d}`, i), Any)
		c.Reason = fmt.Sprint("step ", i)
		p := policy("team/web", fmt.Sprintf(`{"step":%d}`, i), Any)
		p.Reason = "decided"
		apply(t, s, c, p)
	}
	apply(t, s, put("gone", "g1", Absent))
	apply(t, s, del("gone", 1))
	apply(t, s, put("again", "a1", Absent))
	apply(t, s, del("again", 1))
	apply(t, s, put("again", "a3", Absent))
	apply(t, s, put("..", "dots", Absent), put("%41", "percent", Absent))
	apply(t, s, cond("ff", "user-agent = Firefox", Absent), named(KindRoute, "canary", "weight: 10%", Absent))
}

func dump(t *testing.T, s Copier) Dump {
	t.Helper()
	d, err := s.Dump(bg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Bolt to ZooKeeper to memory to Bolt: every store dumps the same.
func TestCopyAcrossStores(t *testing.T) {
	srv := zktest.Start(t)
	src := mustOpen(t, t.TempDir())
	seedCopy(t, src)
	want := dump(t, src)
	if len(want.Docs) != 8 || want.Version != HistoryLimit+3+7 {
		t.Fatalf("seed dump: %d docs at version %d", len(want.Docs), want.Version)
	}
	boltDir := t.TempDir()
	chain := []Copier{src, openZK(t, srv, zkPath()), NewMemory(), mustOpen(t, boltDir)}
	for i := 1; i < len(chain); i++ {
		res, err := Copy(bg, chain[i-1], chain[i], false)
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		if res.Gateways != 5 || res.Policies != 1 || res.Conditions != 1 || res.Routes != 1 || res.Revisions != 2*HistoryLimit+9 || res.Version != want.Version {
			t.Errorf("copy %d: %+v", i, res)
		}
		if got := dump(t, chain[i]); !reflect.DeepEqual(got, want) {
			t.Fatalf("copy %d (%T) dumps differently:\n got %v\nwant %v", i, chain[i], summary(got), summary(want))
		}
		// What a store serves of the copy is the source's.
		if got, w := snapshot(t, chain[i]), snapshot(t, src); !reflect.DeepEqual(got, w) {
			t.Fatalf("copy %d: snapshot %+v, want %+v", i, got, w)
		}
	}
	// The copy goes on numbering where the source was.
	last := chain[len(chain)-1]
	if e := apply(t, last, put("gone", "back", Absent))[0]; e.Revision != 3 {
		t.Errorf("re-created after the copy at revision %d, want 3", e.Revision)
	}
	last.Close()
	if rep, err := CheckDir(boltDir); err != nil || rep.Revisions != 2*HistoryLimit+10 || rep.Conditions != 1 || rep.Routes != 1 {
		t.Errorf("check of the copied bolt store: %+v, %v", rep, err)
	}
}

func summary(d Dump) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version %d:", d.Version)
	for _, doc := range d.Docs {
		fmt.Fprintf(&b, " %s%q[%d..%d]", doc.Kind, doc.Name, doc.Revisions[0].Revision, doc.Revisions[len(doc.Revisions)-1].Revision)
	}
	return b.String()
}

// A destination that holds anything is refused; replace empties it first
// and moves its version on.
func TestCopyIntoNonEmpty(t *testing.T) {
	srv := zktest.Start(t)
	src := NewMemory()
	apply(t, src, put("web", "w1", Absent))
	for _, dst := range []Copier{openZK(t, srv, zkPath()), mustOpen(t, t.TempDir()), NewMemory()} {
		t.Run(fmt.Sprintf("%T", dst), func(t *testing.T) {
			for i := range 5 {
				apply(t, dst, put("old", fmt.Sprint(i), Any))
			}
			_, err := Copy(bg, src, dst, false)
			wantErr(t, err, ErrNotEmpty)
			wantRevs(t, "untouched", snapshot(t, dst).Entries, "old@5:4")
			if _, err := Copy(bg, src, dst, true); err != nil {
				t.Fatal(err)
			}
			snap := snapshot(t, dst)
			wantRevs(t, "replaced", snap.Entries, "web@1:w1")
			if snap.Version != 6 {
				t.Errorf("version = %d, want 6: past the replaced store's 5", snap.Version)
			}
			if _, err := dst.History(bg, "old"); err == nil {
				t.Error("the replaced store's gateway is still there")
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	dir := t.TempDir()
	authFile := dir + "/auth"
	if err := writeFile(authFile, "agent:s3cret\n"); err != nil {
		t.Fatal(err)
	}
	good := []struct {
		url  string
		want Location
		str  string
	}{
		{"bolt:///var/lib/turnout", Location{Scheme: "bolt", Dir: "/var/lib/turnout"}, "bolt:///var/lib/turnout"},
		{"bolt://data", Location{Scheme: "bolt", Dir: "data"}, "bolt://data"},
		{"zk://master.mesos:2181/turnout", Location{Scheme: "zk", ZK: ZKConfig{Servers: []string{"master.mesos:2181"}, Path: "/turnout"}}, "zk://master.mesos:2181/turnout"},
		{"zk://a:1,b,[::1]:3/dcos/turnout?session-timeout=5s&connect-timeout=1m",
			Location{Scheme: "zk", ZK: ZKConfig{Servers: []string{"a:1", "b:2181", "[::1]:3"}, Path: "/dcos/turnout", SessionTimeout: 5e9, ConnectTimeout: 6e10}},
			"zk://a:1,b:2181,[::1]:3/dcos/turnout"},
		{"zk://agent:p%40ss:w@h:2181/t", Location{Scheme: "zk", ZK: ZKConfig{Servers: []string{"h:2181"}, Path: "/t", User: "agent", Password: "p@ss:w"}}, "zk://agent:xxxxx@h:2181/t"},
		{"zk://h/t?auth-file=" + authFile, Location{Scheme: "zk", ZK: ZKConfig{Servers: []string{"h:2181"}, Path: "/t", User: "agent", Password: "s3cret"}}, "zk://agent:xxxxx@h:2181/t"},
	}
	for _, tt := range good {
		got, err := ParseURL(tt.url)
		if err != nil || !reflect.DeepEqual(got, tt.want) || got.String() != tt.str {
			t.Errorf("ParseURL(%q) = %+v (%s), %v; want %+v (%s)", tt.url, got, got.String(), err, tt.want, tt.str)
		}
	}
	bad := []struct{ url, msg string }{
		{"/var/lib/turnout", "not a store URL"},
		{"etcd://h/t", `unknown scheme "etcd"`},
		{"bolt://", "no directory"},
		{"zk://h:2181", "no path"},
		{"zk://h:2181/", "absolute znode path"},
		{"zk://h:2181/a//b", "empty component"},
		{"zk://h:2181/a/", "empty component"},
		{"zk://h:2181/a/../b", ". or .."},
		{"zk:///t", "no ZooKeeper host"},
		{"zk://h:99999/t", "bad port"},
		{"zk://h:x/t", "bad port"},
		{"zk://user@h/t", "user without a password"},
		{"zk://u:secret@h/t?auth-file=" + authFile, "not both"},
		{"zk://u:secret@h/t?timeout=3s", `unknown option "timeout"`},
		{"zk://h/t?session-timeout=soon", "session-timeout=soon"},
		{"zk://h/t?auth-file=/nonexistent", "auth-file"},
	}
	for _, tt := range bad {
		_, err := ParseURL(tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseURL(%q) = %v, want an error with %q", tt.url, err, tt.msg)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q): the error shows the password: %v", tt.url, err)
		}
	}
}

func TestEscapeName(t *testing.T) {
	for name, want := range map[string]string{
		"web":         "web",
		"team/a/web":  "team%2Fa%2Fweb",
		"my.app-1_x":  "my.app-1_x",
		".":           "%2E",
		"..":          "%2E%2E",
		"...x":        "...x",
		"100%":        "100%25",
		"zookeeper":   "zookeeper",
		"ü \x00\x7f/": "%C3%BC%20%00%7F%2F",
	} {
		got := escapeName(name)
		back, err := unescapeName(got)
		if got != want || err != nil || back != name {
			t.Errorf("escapeName(%q) = %q (back %q, %v), want %q", name, got, back, err, want)
		}
	}
	for _, bad := range []string{"%", "%4", "%zz"} {
		if _, err := unescapeName(bad); err == nil {
			t.Errorf("unescapeName(%q) accepted", bad)
		}
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
