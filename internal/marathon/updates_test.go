package marathon

import (
	"slices"
	"testing"
)

func TestTaskOfInstance(t *testing.T) {
	for _, tc := range []struct {
		task, instance string
		want           bool
	}{
		// Marathon 1.9's task of an instance.
		{"my-app.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c._app.1", "my-app.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c", true},
		// A pod's named task.
		{"my-pod.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c.web", "my-pod.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c", true},
		// The older task id and its instance.
		{"pywebserver.8cad6a69-6ca8-11e7-beb2-0e2beceebfcc", "pywebserver.marathon-8cad6a69-6ca8-11e7-beb2-0e2beceebfcc", true},
		{"pywebserver.8cad6a69-6ca8-11e7-beb2-0e2beceebfcc", "pywebserver.marathon-00000000-6ca8-11e7-beb2-0e2beceebfcc", false},
		{"my-app.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c0._app.1", "my-app.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c", false},
		{"other.instance-1._app.1", "my-app.instance-1", false},
	} {
		if got := taskOfInstance(tc.task, tc.instance); got != tc.want {
			t.Errorf("taskOfInstance(%q, %q) = %v", tc.task, tc.instance, got)
		}
	}
}

func healthModel(checks int) *Model {
	a := &App{ID: "/web", Instances: 1, HealthChecks: make([]HealthCheck, checks), Deployments: []string{"d1"},
		Tasks: []Task{
			{ID: "web.1111", AppID: "/web", State: TaskRunning, Host: "10.0.0.1", Ports: []int{31000}, Health: slices.Repeat([]bool{true}, checks)},
			{ID: "web.instance-2222._app.1", AppID: "/web", State: TaskRunning, Host: "10.0.0.2", Ports: []int{31001}},
		}}
	return NewModel([]*App{a}, []Deployment{{ID: "d1", AffectedApps: []string{"/web"}}}, "marathon")
}

// Events change the model as they arrive, without a read, and never the
// model they are applied to.
func TestUpdatesApply(t *testing.T) {
	healthyTasks := func(m *Model) []string {
		var ids []string
		a := m.Apps["/web"]
		for _, t := range a.Tasks {
			if a.Healthy(t) {
				ids = append(ids, t.ID)
			}
		}
		return ids
	}
	for _, tc := range []struct {
		name    string
		checks  int
		u       update
		healthy []string
		ready   bool
	}{
		{"the new instance turns healthy", 1, healthUpdate{AppID: "/web", InstanceID: "web.instance-2222", Healthy: true, AllChecks: true},
			[]string{"web.1111", "web.instance-2222._app.1"}, false},
		{"one check of a 1.3 task by task id", 1, healthUpdate{AppID: "/web", TaskID: "web.instance-2222._app.1", Healthy: true},
			[]string{"web.1111", "web.instance-2222._app.1"}, false},
		{"one passing check of two is not enough", 2, healthUpdate{AppID: "/web", InstanceID: "web.instance-2222", Healthy: true},
			[]string{"web.1111"}, false},
		{"one failing check of two is", 2, healthUpdate{AppID: "/web", InstanceID: "web.marathon-1111", Healthy: false},
			nil, false},
		{"the old task is killed", 1, statusUpdate{AppID: "/web", TaskID: "web.1111", State: "TASK_KILLING"},
			nil, false},
		{"the old task is gone", 1, statusUpdate{AppID: "/web", TaskID: "web.1111", State: "TASK_KILLED"},
			nil, false},
		{"the deployment is done", 1, deploymentDone{ID: "d1"}, []string{"web.1111"}, true},
		{"another app's event", 1, healthUpdate{AppID: "/other", InstanceID: "web.instance-2222", Healthy: true, AllChecks: true},
			[]string{"web.1111"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := healthModel(tc.checks)
			before := healthyTasks(m)
			got := tc.u.applyTo(m)
			if h := healthyTasks(got); !slices.Equal(h, tc.healthy) {
				t.Errorf("healthy tasks %v, want %v", h, tc.healthy)
			}
			if ready, why := got.Readiness(got.Apps["/web"]); ready != tc.ready {
				t.Errorf("ready %v (%s), want %v", ready, why, tc.ready)
			}
			if !slices.Equal(healthyTasks(m), before) || len(m.Deployments) != 1 || len(m.Apps["/web"].Deployments) != 1 {
				t.Error("the update changed the model it was applied to")
			}
		})
	}
	m := healthModel(1)
	if got := (deploymentStarted{Deployment{ID: "d2", AffectedApps: []string{"/web"}}}).applyTo(m); len(got.Deployments) != 2 {
		t.Errorf("deployment_info: deployments %v", got.Deployments)
	}
	if got := (deploymentStarted{Deployment{ID: "d1"}}).applyTo(m); got != m {
		t.Error("a known deployment was added again")
	}
}

// The backoff doubles up to its cap, each wait jittered between half the
// step and the step.
func TestBackoffIsCappedWithJitter(t *testing.T) {
	b := newBackoff(250e6, 2e9)
	steps := []float64{0.25, 0.5, 1, 2, 2, 2, 2, 2, 2, 2}
	for i, s := range steps {
		d := b.next().Seconds()
		if d < s/2 || d > s {
			t.Errorf("wait %d: %.3fs, want between %.3fs and %.3fs", i, d, s/2, s)
		}
	}
	b.reset()
	if d := b.next().Seconds(); d > 0.25 {
		t.Errorf("after reset: %.3fs", d)
	}
}
