// Package marathontest is for the tests of the DC/OS backend plugins
// (marathon, marathon-lb, minuteman): a plugin set up against the fake
// Marathon, and its targets watched.
package marathontest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/plugins/sdk"
)

// Plugin is a DC/OS backend plugin.
type Plugin interface {
	sdk.Backend
	Close() error
}

// Start configures p against the fake Marathon fm, with settings
// besides its URL (JSON object members: `"resync": "1h"`), and closes
// it when the test ends.
func Start[P Plugin](t testing.TB, p P, fm *fakemarathon.Server, settings string) P {
	t.Helper()
	t.Cleanup(func() { p.Close() })
	if err := p.Configure(context.Background(), json.RawMessage(`{"urls": ["`+fm.URL()+`"], `+settings+`}`)); err != nil {
		t.Fatal(err)
	}
	return p
}

// Watch watches scheme:ref on p until the test ends.
func Watch(t testing.TB, p sdk.Backend, scheme, ref string) *fakemarathon.Watch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := p.Watch(ctx, sdk.Target{Scheme: scheme, Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	return fakemarathon.NewWatch(t, ch)
}
