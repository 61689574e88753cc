package marathon

import (
	"encoding/json"
	"fmt"
	"slices"

	gomarathon "github.com/gambol99/go-marathon"
)

// eventTypes are the events the watcher asks for (Marathon 1.3.7+ sends
// only these when asked with event_type; older ones ignore the filter).
var eventTypes = []string{
	"event_stream_attached",
	"status_update_event",
	"health_status_changed_event",
	"instance_health_changed_event",
	"failed_health_check_event",
	"api_post_event",
	"app_terminated_event",
	"group_change_success",
	"deployment_info",
	"deployment_success",
	"deployment_failed",
	"deployment_step_success",
	"deployment_step_failure",
}

// event is what one Marathon event means for the model: an update to
// apply at once (nil when the event only says what to read again), the
// apps to read again (GET /v2/apps/{id}), and whether everything must be
// read again (an event not understood). An update that cannot be applied
// whole (a task the model does not know yet) asks for its app's read
// itself (see reader).
type event struct {
	update update
	apps   []string
	full   bool
}

// rereads says whether the event asks for any read.
func (e event) rereads() bool { return e.full || len(e.apps) > 0 }

// plan is the part of a deployment plan the watcher reads: its id and
// the apps its steps act on. A step is {"actions": [{"action", "app"}]}
// in Marathon's answers, {"action", "app"} in the event bus
// documentation: both are read.
type plan struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Steps   []struct {
		App     string `json:"app"`
		Actions []struct {
			App string `json:"app"`
		} `json:"actions"`
	} `json:"steps"`
}

// apps are the ids of the apps the plan acts on, each once.
func (p plan) apps() []string {
	var out []string
	add := func(id string) {
		if id = NormalizeID(id); id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, s := range p.Steps {
		add(s.App)
		for _, a := range s.Actions {
			add(a.App)
		}
	}
	return out
}

// decodeEvent reads one event's JSON. The types go-marathon v0.7.1 knows
// are decoded with its types; it knows neither instance_health_changed_event
// nor the instanceId that health_status_changed_event carries since
// Marathon 1.4 (research §5.3 item 8), which are read here, nor the plan
// of deployment_success. Unknown types ask for a full read.
//
// What each event reads again (only the apps it names: a read of the
// whole of Marathon costs a full /v2/apps of every app):
//   - task status and health: nothing, the update is applied as it comes
//     (a task or app the model does not know yet reads its app);
//   - api_post_event, app_terminated_event: the app;
//   - deployment_info, deployment_step_*, deployment_success/failed: the
//     apps of the plan (a deployment's end settles what its events did);
//   - group_change_success: nothing, the deployment_info that every change
//     of an app through a group starts names the apps;
//   - failed_health_check_event: nothing, the health_status_changed_event
//     that a change of health sends carries it.
func decodeEvent(eventType string, data []byte) (event, error) {
	var head struct {
		EventType string `json:"eventType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return event{}, fmt.Errorf("event %s: %w", eventType, err)
	}
	if head.EventType != "" {
		// go-marathon dispatches on the JSON's type, not the SSE name.
		eventType = head.EventType
	}
	switch eventType {
	case "event_stream_attached", "group_change_success", "failed_health_check_event":
		return event{}, nil
	case "instance_health_changed_event":
		var e struct {
			InstanceID string `json:"instanceId"`
			RunSpecID  string `json:"runSpecId"`
			Healthy    *bool  `json:"healthy"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Healthy == nil {
			return appOrFull(e.RunSpecID), nil
		}
		// healthy is the instance's health over all of its checks.
		return event{update: healthUpdate{AppID: NormalizeID(e.RunSpecID), InstanceID: e.InstanceID,
			Healthy: *e.Healthy, AllChecks: true}}, nil
	case "deployment_info":
		var e struct {
			Plan plan `json:"plan"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Plan.ID == "" {
			return event{full: true}, nil
		}
		d := deploymentStarted{Deployment{ID: e.Plan.ID, Version: e.Plan.Version, AffectedApps: e.Plan.apps()}}
		return event{update: d, apps: d.AffectedApps}, nil
	case "deployment_success", "deployment_failed":
		var e struct {
			ID   string `json:"id"`
			Plan plan   `json:"plan"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.ID == "" {
			return event{full: true}, nil
		}
		return event{update: deploymentDone{ID: e.ID}, apps: e.Plan.apps()}, nil
	case "deployment_step_success", "deployment_step_failure":
		var e struct {
			Plan plan `json:"plan"`
		}
		if err := json.Unmarshal(data, &e); err != nil {
			return event{full: true}, nil
		}
		return event{apps: e.Plan.apps()}, nil
	case "api_post_event":
		var e struct {
			AppDefinition *struct {
				ID string `json:"id"`
			} `json:"appDefinition"`
		}
		if err := json.Unmarshal(data, &e); err != nil {
			return event{full: true}, nil
		}
		if e.AppDefinition == nil {
			// A group's post: the deployment_info it starts names the
			// apps.
			return event{}, nil
		}
		return appOrFull(e.AppDefinition.ID), nil
	case "app_terminated_event":
		var e struct {
			AppID string `json:"appId"`
		}
		json.Unmarshal(data, &e)
		return appOrFull(e.AppID), nil
	}
	ev, err := gomarathon.GetEvent(eventType)
	if err != nil {
		// A type go-marathon does not know: read again to be safe.
		return event{full: true}, nil
	}
	if err := json.Unmarshal(data, ev.Event); err != nil {
		return event{}, fmt.Errorf("event %s: %w", eventType, err)
	}
	switch e := ev.Event.(type) {
	case *gomarathon.EventStatusUpdate:
		u := statusUpdate{TaskID: e.TaskID, AppID: NormalizeID(e.AppID), State: e.TaskStatus,
			Host: e.Host, Ports: e.Ports, Version: e.Version}
		for _, ip := range e.IPAddresses {
			if ip != nil {
				u.IPs = append(u.IPs, ip.IPAddress)
			}
		}
		if u.AppID == "" {
			return event{full: true}, nil
		}
		return event{update: u}, nil
	case *gomarathon.EventHealthCheckChanged:
		var extra struct {
			InstanceID string `json:"instanceId"`
		}
		json.Unmarshal(data, &extra)
		if e.AppID == "" {
			return event{full: true}, nil
		}
		// alive is the result of one health check.
		return event{update: healthUpdate{AppID: NormalizeID(e.AppID), TaskID: e.TaskID, InstanceID: extra.InstanceID,
			Healthy: e.Alive}}, nil
	}
	return event{full: true}, nil
}

// appOrFull reads the app id, or everything when the event names none.
func appOrFull(id string) event {
	if id = NormalizeID(id); id == "" {
		return event{full: true}
	}
	return event{apps: []string{id}}
}
