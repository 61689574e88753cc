package marathon

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
)

// recordedEvents are the JSON bodies of Marathon's event bus
// documentation (testdata marathon/master/docs/docs/event-bus.md, real
// upstream text, unchanged), by eventType: the first body of each type.
func recordedEvents(t *testing.T) map[string][]byte {
	t.Helper()
	doc := fakemarathon.Fixture("marathon/master/docs/docs/event-bus.md")
	out := map[string][]byte{}
	for _, m := range regexp.MustCompile("(?s)```\\s*json\\s*\n(.*?)```").FindAllSubmatch(doc, -1) {
		var head struct {
			EventType string `json:"eventType"`
		}
		if json.Unmarshal(m[1], &head) != nil || head.EventType == "" {
			continue
		}
		if _, ok := out[head.EventType]; !ok {
			out[head.EventType] = m[1]
		}
	}
	return out
}

// Every event the watcher applies is decoded from Marathon's own bodies
// into the update it makes and the reads it asks for: only the apps it
// names, a full read only for what the watcher does not know.
func TestDecodeRecordedEvents(t *testing.T) {
	events := recordedEvents(t)
	for _, tc := range []struct {
		eventType string
		want      update
		reads     string // the apps read again, or "full"
	}{
		{"status_update_event", statusUpdate{TaskID: "my-app_0-1396592784349", AppID: "/my-app", State: "TASK_RUNNING",
			Host: "slave-1234.acme.org", Ports: []int{31372}, Version: "2014-04-04T06:26:23.051Z"}, ""},
		{"instance_health_changed_event", healthUpdate{AppID: "/app-id", InstanceID: "my-app.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c",
			Healthy: true, AllChecks: true}, ""},
		{"health_status_changed_event", healthUpdate{AppID: "/my-app", InstanceID: "my-app.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c", Healthy: true}, ""},
		{"deployment_success", deploymentDone{ID: "867ed450-f6a8-4d33-9b0e-e11c5513990b"}, ""},
		{"deployment_failed", deploymentDone{ID: "867ed450-f6a8-4d33-9b0e-e11c5513990b"}, ""},
		{"deployment_info", deploymentStarted{Deployment{ID: "867ed450-f6a8-4d33-9b0e-e11c5513990b", Version: "2014-03-01T23:24:14.846Z",
			AffectedApps: []string{"/my-app"}}}, "/my-app"},
		{"api_post_event", nil, "/my-app"},
		{"app_terminated_event", nil, "/my-app"},
		{"instance_changed_event", nil, "full"},
	} {
		t.Run(tc.eventType, func(t *testing.T) {
			body, ok := events[tc.eventType]
			if !ok {
				t.Fatalf("event-bus.md has no %s body", tc.eventType)
			}
			ev, err := decodeEvent("", body)
			if err != nil {
				t.Fatal(err)
			}
			reads := strings.Join(ev.apps, ",")
			if ev.full {
				reads = "full"
			}
			if reads != tc.reads {
				t.Errorf("%s reads %q, want %q", tc.eventType, reads, tc.reads)
			}
			got, _ := json.Marshal(ev.update)
			want, _ := json.Marshal(tc.want)
			if string(got) != string(want) || (ev.update == nil) != (tc.want == nil) {
				t.Errorf("%s: update %T %s, want %T %s", tc.eventType, ev.update, got, tc.want, want)
			}
		})
	}
}

// The SSE name is a fallback: the JSON's eventType decides, as in
// go-marathon; a body that is not JSON is an error.
func TestDecodeEventTypeAndErrors(t *testing.T) {
	ev, err := decodeEvent("status_update_event", []byte(`{"eventType":"deployment_success","id":"d1"}`))
	if err != nil || ev.update != (deploymentDone{ID: "d1"}) {
		t.Errorf("got %+v %v", ev, err)
	}
	if _, err := decodeEvent("status_update_event", []byte(`not json`)); err == nil {
		t.Error("a body that is not JSON decoded")
	}
	if ev, err := decodeEvent("", []byte(`{"eventType":"event_stream_attached","remoteAddress":"::1"}`)); err != nil || ev.rereads() || ev.update != nil {
		t.Errorf("event_stream_attached: %+v %v", ev, err)
	}
}
