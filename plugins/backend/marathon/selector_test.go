package marathon

import (
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/marathon"
	"github.com/turnout/turnout/plugins/sdk"
)

// Vamp's route selectors over recorded Marathon apps (the fake Marathon
// serves marathon-lb's zdd_apps.json and marathon15_apps.json, Marathon
// 1.4 and 1.5 shapes): labels, names, images, the app's container port
// and the task's address select tasks' ports, as Vamp's
// RouteSelectionProcessor.scala does.
func TestSelectorOverRecordedApps(t *testing.T) {
	const green = "10.0.6.25:16916 healthy, 10.0.6.25:23336 healthy, 10.0.6.25:31184 healthy"
	const blue = "10.0.1.147:25724 healthy"
	for _, tc := range []struct{ file, selector, want, reason string }{
		{"zdd_apps.json", "label(HAPROXY_DEPLOYMENT_COLOUR)(blue)", blue, ""},
		{"zdd_apps.json", "label(HAPROXY_DEPLOYMENT_GROUP)(nginx) and not label(HAPROXY_DEPLOYMENT_COLOUR)(blue)", green, ""},
		{"zdd_apps.json", "label(HAPROXY_.*)(gr.*)", green, ""},
		{"zdd_apps.json", "name(nginx-blue) or ip(10.0.6.25)", blue + ", " + green, ""},
		{"zdd_apps.json", "image(brndnmtthws/nginx-echo-sleep) and kind(app) and namespace(.*)", blue + ", " + green, ""},
		{"zdd_apps.json", "image(brndnmtthws/.*) and port(8080) and index(0)", blue + ", " + green, ""},
		{"zdd_apps.json", "port(10000)", "", "selector 'port(10000)' selects no running task"},
		{"zdd_apps.json", "label(nothing)(.*)", "", "selector 'label(nothing)(.*)' selects no running task"},
		{"marathon15_apps.json", "image(python:3) and port(80)", "10.0.2.148:1565 healthy", ""},
	} {
		t.Run(tc.selector, func(t *testing.T) {
			fm := fakemarathon.New(t, fakemarathon.Options{Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/" + tc.file)}})
			s := watch(t, start(t, fm), selectorPrefix+tc.selector).Await("a snapshot", func(sdk.Snapshot) bool { return true })
			if got := endpoints(s); got != tc.want || s.Reason != tc.reason || s.Ready != (tc.reason == "") {
				t.Fatalf("got %q ready=%v reason %q, want %q reason %q", got, s.Ready, s.Reason, tc.want, tc.reason)
			}
			for _, e := range s.Endpoints {
				if e.Labels["app"] == "" || e.Labels["task"] == "" || e.Labels["port_index"] != "0" {
					t.Errorf("endpoint %s labels %v", e.Address, e.Labels)
				}
			}
		})
	}
}

func TestSelectorRefusedWithVampsMessage(t *testing.T) {
	for sel, want := range map[string]string{
		"winter(cold)": `marathon: invalid selector 'winter(cold)': position 1: unknown selector "winter"`,
		"namespace()":  `marathon: invalid selector 'namespace()': position 11: expected a value`,
	} {
		if _, err := target(marathon.Config{}, selectorPrefix+sel); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", sel, err, want)
		}
	}
}
