package filesource

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

func gws(t *testing.T, doc string) []*gateway.Gateway {
	t.Helper()
	g, err := gateway.Decode([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func names(t *testing.T, st store.Store) string {
	t.Helper()
	snap, err := st.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range snap.Entries {
		n = append(n, fmt.Sprintf("%s@%d", e.Name, e.Revision))
	}
	return fmt.Sprint(n)
}

func TestToStore(t *testing.T) {
	st := store.NewMemory()
	ctx := context.Background()
	// A gateway created through the API: the file never touches it.
	api, _ := gws(t, "name: api\nport: 9100\n")[0].MarshalJSON()
	if _, err := st.Apply(ctx, []store.Change{{Name: "api", Doc: api, Match: store.Absent}}); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("port taken")
	apply := ToStore(st, func(set []*gateway.Gateway) error {
		for _, g := range set {
			if g.Port.Number == 9999 {
				return refuse
			}
		}
		return nil
	}, engine.Limits{})

	steps := []struct {
		file, want string
		err        error
	}{
		{"name: a\nport: 9001\n---\nname: b\nport: 9002\n", "[a@1 api@1 b@1]", nil},
		// The same file again: nothing changes, no new revision.
		{"name: a\nport: 9001\n---\nname: b\nport: 9002\n", "[a@1 api@1 b@1]", nil},
		// b dropped from the file is deleted; a changed gets revision 2.
		{"name: a\nport: 9011\n", "[a@2 api@1]", nil},
		// Refused by the check: nothing written.
		{"name: a\nport: 9999\n", "[a@2 api@1]", refuse},
	}
	for i, s := range steps {
		err := apply(gws(t, s.file))
		if !errors.Is(err, s.err) {
			t.Fatalf("step %d: error %v, want %v", i, err, s.err)
		}
		if got := names(t, st); got != s.want {
			t.Fatalf("step %d: store holds %s, want %s", i, got, s.want)
		}
	}
}
