package marathon

import (
	"slices"
	"strings"
)

// update is what an event changes in the model, applied at once (so a
// task that turns healthy or starts being killed is in the table as the
// event arrives) and again on top of a read that started before it.
type update interface {
	// applyTo returns m with the update applied; m itself is not changed.
	applyTo(m *Model) *Model
}

// reader is an update that may not apply whole to a model: reads is the
// app to read again then ("" when the update is all there is to know).
type reader interface {
	reads(m *Model) string
}

// withApps returns m with the apps replaced, and those of gone removed.
func withApps(m *Model, apps []*App, gone []string) *Model {
	c := *m
	c.Apps = make(map[string]*App, len(m.Apps)+len(apps))
	for id, app := range m.Apps {
		c.Apps[id] = app
	}
	for _, a := range apps {
		c.Apps[a.ID] = a
	}
	for _, id := range gone {
		delete(c.Apps, id)
	}
	return &c
}

// withApp returns m with app a replaced.
func withApp(m *Model, a *App) *Model {
	c := *m
	c.Apps = make(map[string]*App, len(m.Apps))
	for id, app := range m.Apps {
		c.Apps[id] = app
	}
	c.Apps[a.ID] = a
	return &c
}

// statusUpdate is a status_update_event.
type statusUpdate struct {
	TaskID, AppID, State, Host string
	Version                    string
	Ports                      []int
	IPs                        []string
}

// terminal states remove a task.
var terminal = []string{"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_LOST"}

// reads: a task the model does not know yet (a new task: the event lacks
// its service ports and health) or an app it does not know reads the
// app; a known task's change of state, or the end of a task, is all
// there is.
func (u statusUpdate) reads(m *Model) string {
	a, ok := m.Apps[u.AppID]
	if !ok {
		if slices.Contains(terminal, u.State) {
			return ""
		}
		return u.AppID
	}
	if slices.ContainsFunc(a.Tasks, func(t Task) bool { return t.ID == u.TaskID }) || slices.Contains(terminal, u.State) {
		return ""
	}
	return u.AppID
}

func (u statusUpdate) applyTo(m *Model) *Model {
	a, ok := m.Apps[u.AppID]
	if !ok {
		return m
	}
	i := slices.IndexFunc(a.Tasks, func(t Task) bool { return t.ID == u.TaskID })
	gone := slices.Contains(terminal, u.State)
	if i < 0 && (gone || u.State != TaskRunning) {
		// An unknown task that is not running yet is read with the app.
		return m
	}
	a = a.clone()
	switch {
	case gone:
		a.Tasks = slices.Delete(a.Tasks, i, i+1)
	case i < 0:
		a.Tasks = append(a.Tasks, Task{ID: u.TaskID, AppID: u.AppID, Host: u.Host, State: u.State,
			Version: u.Version, Ports: u.Ports, IPAddresses: u.IPs})
	default:
		a.Tasks[i].State = u.State
	}
	return withApp(m, a)
}

// healthUpdate is an instance_health_changed_event (AllChecks: the
// instance's health over all of its checks) or a
// health_status_changed_event (the result of one check). Marathon 1.4+
// names the instance, older ones the task.
type healthUpdate struct {
	AppID, TaskID, InstanceID string
	Healthy, AllChecks        bool
}

// reads: a result the model cannot place (an app or task it does not
// know, one check of several passing) reads the app.
func (u healthUpdate) reads(m *Model) string {
	a, ok := m.Apps[u.AppID]
	if !ok {
		return u.AppID
	}
	if !a.HasHealthChecks() {
		return ""
	}
	if !u.AllChecks && u.Healthy && len(a.HealthChecks) > 1 {
		return u.AppID
	}
	if !slices.ContainsFunc(a.Tasks, func(t Task) bool { return u.matches(t) }) {
		return u.AppID
	}
	return ""
}

func (u healthUpdate) matches(t Task) bool {
	return (u.TaskID != "" && t.ID == u.TaskID) || (u.InstanceID != "" && taskOfInstance(t.ID, u.InstanceID))
}

func (u healthUpdate) applyTo(m *Model) *Model {
	a, ok := m.Apps[u.AppID]
	if !ok || !a.HasHealthChecks() {
		return m
	}
	if !u.AllChecks && u.Healthy && len(a.HealthChecks) > 1 {
		// One check of several passed: the others are read with the app.
		return m
	}
	i := slices.IndexFunc(a.Tasks, u.matches)
	if i < 0 {
		return m
	}
	health := make([]bool, len(a.HealthChecks))
	for k := range health {
		health[k] = u.Healthy
	}
	if slices.Equal(a.Tasks[i].Health, health) {
		return m
	}
	a = a.clone()
	a.Tasks[i].Health = health
	return withApp(m, a)
}

// taskOfInstance says whether a task belongs to an instance. Marathon 1.4+
// names tasks after their instance: "app.instance-UUID" runs tasks
// "app.instance-UUID._app.N" (1.9) or "app.instance-UUID.NAME", and a task
// of the older form "app.UUID" is the instance "app.marathon-UUID". The
// app id is never derived from either (research §2.4): both are matched
// within the app the event names.
func taskOfInstance(taskID, instanceID string) bool {
	if strings.HasPrefix(taskID, instanceID+".") {
		return true
	}
	if i := strings.LastIndex(instanceID, ".marathon-"); i >= 0 {
		return taskID == instanceID[:i]+"."+instanceID[i+len(".marathon-"):]
	}
	return false
}

// deploymentStarted is a deployment_info: the deployment is in flight.
type deploymentStarted struct{ Deployment }

func (u deploymentStarted) applyTo(m *Model) *Model {
	if slices.ContainsFunc(m.Deployments, func(d Deployment) bool { return d.ID == u.ID }) {
		return m
	}
	c := *m
	c.Deployments = append(slices.Clone(m.Deployments), u.Deployment)
	return &c
}

// deploymentDone is a deployment_success or deployment_failed: the
// deployment is no longer in flight.
type deploymentDone struct{ ID string }

func (u deploymentDone) applyTo(m *Model) *Model {
	c := *m
	c.Deployments = slices.DeleteFunc(slices.Clone(m.Deployments), func(d Deployment) bool { return d.ID == u.ID })
	changed := len(c.Deployments) != len(m.Deployments)
	var apps map[string]*App
	for id, a := range m.Apps {
		if !slices.Contains(a.Deployments, u.ID) {
			continue
		}
		if apps == nil {
			apps = make(map[string]*App, len(m.Apps))
			for k, v := range m.Apps {
				apps[k] = v
			}
		}
		a = a.clone()
		a.Deployments = slices.DeleteFunc(slices.Clone(a.Deployments), func(d string) bool { return d == u.ID })
		apps[id] = a
	}
	if apps != nil {
		c.Apps = apps
		changed = true
	}
	if !changed {
		return m
	}
	return &c
}
