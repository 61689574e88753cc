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
// apply at once (nil when the event only says what to read again), and
// whether the model should be read again.
type event struct {
	update update
	reread bool
}

// decodeEvent reads one event's JSON. The types go-marathon v0.7.1 knows
// are decoded with its types; it knows neither instance_health_changed_event
// nor the instanceId that health_status_changed_event carries since
// Marathon 1.4 (research §5.3 item 8), which are read here. Unknown types
// ask for a read.
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
	case "event_stream_attached":
		return event{}, nil
	case "instance_health_changed_event":
		var e struct {
			InstanceID string `json:"instanceId"`
			RunSpecID  string `json:"runSpecId"`
			Healthy    *bool  `json:"healthy"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Healthy == nil {
			return event{reread: true}, nil
		}
		// healthy is the instance's health over all of its checks.
		return event{update: healthUpdate{AppID: NormalizeID(e.RunSpecID), InstanceID: e.InstanceID,
			Healthy: *e.Healthy, AllChecks: true}, reread: true}, nil
	case "deployment_info":
		var e struct {
			Plan struct {
				ID      string `json:"id"`
				Version string `json:"version"`
				// A step is {"actions": [{"action", "app"}]} in
				// Marathon's answers, {"action", "app"} in the event
				// bus documentation: both are read.
				Steps []struct {
					App     string `json:"app"`
					Actions []struct {
						App string `json:"app"`
					} `json:"actions"`
				} `json:"steps"`
			} `json:"plan"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Plan.ID == "" {
			return event{reread: true}, nil
		}
		d := deploymentStarted{Deployment{ID: e.Plan.ID, Version: e.Plan.Version}}
		for _, s := range e.Plan.Steps {
			if id := NormalizeID(s.App); id != "" && !slices.Contains(d.AffectedApps, id) {
				d.AffectedApps = append(d.AffectedApps, id)
			}
			for _, a := range s.Actions {
				if id := NormalizeID(a.App); id != "" && !slices.Contains(d.AffectedApps, id) {
					d.AffectedApps = append(d.AffectedApps, id)
				}
			}
		}
		return event{update: d, reread: true}, nil
	}
	ev, err := gomarathon.GetEvent(eventType)
	if err != nil {
		// A type go-marathon does not know: read again to be safe.
		return event{reread: true}, nil
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
		return event{update: u, reread: true}, nil
	case *gomarathon.EventHealthCheckChanged:
		var extra struct {
			InstanceID string `json:"instanceId"`
		}
		json.Unmarshal(data, &extra)
		// alive is the result of one health check.
		return event{update: healthUpdate{AppID: NormalizeID(e.AppID), TaskID: e.TaskID, InstanceID: extra.InstanceID,
			Healthy: e.Alive}, reread: true}, nil
	case *gomarathon.EventDeploymentSuccess:
		return event{update: deploymentDone{ID: e.ID}, reread: true}, nil
	case *gomarathon.EventDeploymentFailed:
		return event{update: deploymentDone{ID: e.ID}, reread: true}, nil
	}
	return event{reread: true}, nil
}
