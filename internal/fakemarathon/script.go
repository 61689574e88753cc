package fakemarathon

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Network modes of an AppSpec.
const (
	Host      = "host"
	Bridge    = "container/bridge"
	Container = "container"
)

// AppSpec is an app a test deploys. The fake writes it as Marathon would
// answer it, in the shape of its Version.
type AppSpec struct {
	ID        string
	Instances int
	Labels    map[string]string
	// Network is Host, Bridge (the default) or Container (IP per task).
	Network string
	Ports   []PortSpec
	// HealthCheck gives the app a MESOS_HTTP (1.5) or HTTP (1.4) health
	// check on port index 0: its tasks start unhealthy until
	// MarkHealthy.
	HealthCheck bool
	Image       string
	Args        []string
	// RequirePorts makes the tasks' host ports the service ports (as the
	// Marathon-LB package does).
	RequirePorts bool
	// TaskPorts, when set, are the host ports of the tasks this Deploy
	// starts, one list (in port-index order) per task, in place of the
	// ones the fake picks (host and bridge modes). Every task's host is
	// 127.0.0.1: a test that sends real traffic to the tasks listens on
	// these ports.
	TaskPorts [][]int
}

// PortSpec is one port: a port mapping in the container modes, a port
// definition in host mode (ServicePort is then its "port").
type PortSpec struct {
	ContainerPort int
	HostPort      int
	ServicePort   int
	Name          string
	Labels        map[string]string
}

// MarathonLBSpec is the Marathon-LB app of the Universe package
// (marathon-lb 1.15.0, revision 45) rendered with its defaults, group and
// bind-http-https as given: the same args and ports as
// testdata/universe/packages/marathon-lb/45/marathon.json.mustache.
func MarathonLBSpec(id, group string, bindHTTPHTTPS bool) AppSpec {
	args := []string{"sse", "-m", "http://marathon.mesos:8080", "--health-check"}
	if !bindHTTPHTTPS {
		args = append(args, "--dont-bind-http-https")
	}
	args = append(args, "--haproxy-map", "--max-reload-retries", "10", "--reload-interval", "10", "--group", group)
	var ports []PortSpec
	if bindHTTPHTTPS {
		ports = append(ports, PortSpec{ServicePort: 80}, PortSpec{ServicePort: 443})
	}
	ports = append(ports, PortSpec{ServicePort: 9090}, PortSpec{ServicePort: 9091})
	for p := 10000; p <= 10100; p++ {
		ports = append(ports, PortSpec{ServicePort: p})
	}
	return AppSpec{ID: id, Instances: 1, Network: Host, Ports: ports, HealthCheck: true, RequirePorts: true,
		Image: "mesosphere/marathon-lb:v1.15.0", Args: args}
}

func (s *Server) nextID() string {
	s.seq++
	return fmt.Sprintf("%08x-6ca8-11e7-beb2-0e2beceebfcc", s.seq)
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// render is the app JSON object Marathon would answer for spec.
func (s *Server) render(spec AppSpec, version string) map[string]any {
	id := spec.ID
	if !strings.HasPrefix(id, "/") {
		id = "/" + id
	}
	labels := map[string]any{}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	obj := map[string]any{
		"id": id, "instances": spec.Instances, "cpus": 0.1, "mem": 128, "disk": 0, "labels": labels,
		"requirePorts": spec.RequirePorts, "version": version,
		"versionInfo":  map[string]any{"lastScalingAt": version, "lastConfigChangeAt": version},
		"healthChecks": []any{}, "deployments": []any{}, "tasks": []any{},
		"tasksStaged": 0, "tasksRunning": 0, "tasksHealthy": 0, "tasksUnhealthy": 0,
	}
	if spec.Args != nil {
		obj["args"] = spec.Args
	}
	if spec.HealthCheck {
		proto := "MESOS_HTTP"
		if s.opts.Version == V14 {
			proto = "HTTP"
		}
		obj["healthChecks"] = []any{map[string]any{"protocol": proto, "path": "/", "portIndex": 0,
			"gracePeriodSeconds": 15, "intervalSeconds": 3, "timeoutSeconds": 15, "maxConsecutiveFailures": 10}}
	}
	network := spec.Network
	if network == "" {
		network = Bridge
	}
	image := spec.Image
	if image == "" {
		image = "nginx"
	}
	docker := map[string]any{"image": image, "forcePullImage": false, "privileged": false, "parameters": []any{}}
	container := map[string]any{"type": "DOCKER", "docker": docker, "volumes": []any{}}
	obj["container"] = container
	var mappings, defs []any
	for _, p := range spec.Ports {
		pl := map[string]any{}
		for k, v := range p.Labels {
			pl[k] = v
		}
		if network == Host {
			defs = append(defs, map[string]any{"port": p.ServicePort, "protocol": "tcp", "name": p.Name, "labels": pl})
			continue
		}
		m := map[string]any{"containerPort": p.ContainerPort, "servicePort": p.ServicePort, "protocol": "tcp", "labels": pl}
		if p.Name != "" {
			m["name"] = p.Name
		}
		if network == Bridge {
			m["hostPort"] = p.HostPort
		}
		mappings = append(mappings, m)
	}
	if network == Host {
		obj["portDefinitions"] = nonNil(defs)
	}
	if s.opts.Version == V14 {
		docker["network"] = map[string]string{Host: "HOST", Bridge: "BRIDGE", Container: "USER"}[network]
		if network != Host {
			docker["portMappings"] = nonNil(mappings)
			obj["portDefinitions"] = []any{}
		}
		if network == Container {
			obj["ipAddress"] = map[string]any{"networkName": "dcos", "groups": []any{}, "labels": map[string]any{}}
		} else {
			obj["ipAddress"] = nil
		}
	} else {
		n := map[string]any{"mode": network}
		if network == Container {
			n["name"] = "dcos"
		}
		obj["networks"] = []any{n}
		if network != Host {
			container["portMappings"] = nonNil(mappings)
		}
	}
	return obj
}

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// newTask is a running task of obj's current version.
func (s *Server) newTask(obj map[string]any, spec AppSpec, n int, healthy bool) map[string]any {
	id := obj["id"].(string)
	uuid := s.nextID()
	taskID := strings.ReplaceAll(strings.TrimPrefix(id, "/"), "/", "_") + "." + uuid
	network := spec.Network
	if network == "" {
		network = Bridge
	}
	ports := []any{}
	for i, p := range spec.Ports {
		switch {
		case (network == Host || network == Bridge) && n < len(spec.TaskPorts) && i < len(spec.TaskPorts[n]):
			ports = append(ports, spec.TaskPorts[n][i])
		case network == Host && spec.RequirePorts:
			ports = append(ports, p.ServicePort)
		case network == Host || network == Bridge:
			ports = append(ports, 31000+s.seq*10+i)
		}
	}
	t := map[string]any{
		"id": taskID, "appId": id, "host": "127.0.0.1", "ports": ports, "state": "TASK_RUNNING",
		"ipAddresses": []any{map[string]any{"ipAddress": fmt.Sprintf("127.0.1.%d", s.seq%250+1), "protocol": "IPv4"}},
		"stagedAt":    now(), "startedAt": now(), "version": obj["version"],
		"slaveId": "db7b40e2-791c-445f-b373-183e2a648a86-S1",
	}
	if spec.HealthCheck {
		t["healthCheckResults"] = []any{s.healthResult(taskID, healthy)}
	}
	return t
}

func instanceID(taskID string) string {
	app, uuid, _ := strings.Cut(taskID, ".")
	return app + ".marathon-" + uuid
}

func (s *Server) healthResult(taskID string, alive bool) map[string]any {
	r := map[string]any{"alive": alive, "consecutiveFailures": 0, "firstSuccess": nil, "lastFailure": nil,
		"lastSuccess": nil, "lastFailureCause": nil}
	if alive {
		r["firstSuccess"], r["lastSuccess"] = now(), now()
	} else {
		r["consecutiveFailures"], r["lastFailure"], r["lastFailureCause"] = 1, now(), "Connection refused"
	}
	if s.opts.Version == V14 {
		r["taskId"] = taskID
	} else {
		r["instanceId"] = instanceID(taskID)
	}
	return r
}

// statusLocked emits a task's status_update_event (and, on 1.5, the
// instance_changed_event Marathon sends beside it).
func (s *Server) statusLocked(t map[string]any, status string) {
	s.emitLocked("status_update_event", map[string]any{
		"slaveId": t["slaveId"], "taskId": t["id"], "taskStatus": status, "message": "", "appId": t["appId"],
		"host": t["host"], "ports": t["ports"], "ipAddresses": t["ipAddresses"], "version": t["version"],
	})
	if s.opts.Version == V15 {
		cond := map[string]string{"TASK_STAGING": "Staging", "TASK_RUNNING": "Running", "TASK_KILLING": "Killing", "TASK_KILLED": "Killed"}[status]
		s.emitLocked("instance_changed_event", map[string]any{
			"instanceId": instanceID(t["id"].(string)), "condition": cond, "runSpecId": t["appId"],
			"agentId": t["slaveId"], "host": t["host"], "runSpecVersion": t["version"],
		})
	}
}

// Deploy creates an app or deploys a new version of it, and emits what
// Marathon emits: api_post_event, group_change_success, deployment_info and
// a status update per new task. With a health check the new tasks start
// unhealthy and the deployment stays in flight until MarkHealthy; without
// one it finishes at once.
func (s *Server) Deploy(spec AppSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	version := now()
	obj := s.render(spec, version)
	id := obj["id"].(string)
	a := s.find(id)
	action := "StartApplication"
	if a == nil {
		a = &app{}
		s.apps = append(s.apps, a)
	} else {
		action = "RestartApplication"
		obj["tasks"] = a.obj["tasks"]
	}
	a.obj, a.raw, s.pristine = obj, nil, nil
	dep := &deployment{ID: s.nextID(), Version: version, App: id, Action: action}
	s.deployments = append(s.deployments, dep)
	obj["deployments"] = []any{map[string]any{"id": dep.ID}}
	def := map[string]any{}
	for k, v := range obj {
		if k != "tasks" && k != "deployments" {
			def[k] = v
		}
	}
	s.emitLocked("api_post_event", map[string]any{"clientIp": "127.0.0.1", "uri": "/v2/apps" + id, "appDefinition": def})
	s.emitLocked("group_change_success", map[string]any{"groupId": "/", "version": version})
	plan := map[string]any{"id": dep.ID, "version": version, "steps": []any{map[string]any{"actions": []any{map[string]any{"action": action, "app": id}}}}}
	s.emitLocked("deployment_info", map[string]any{"plan": plan, "currentStep": map[string]any{"actions": []any{map[string]any{"action": action, "app": id}}}})
	tasks, _ := obj["tasks"].([]any)
	for n := range spec.Instances {
		t := s.newTask(obj, spec, n, !spec.HealthCheck)
		s.statusLocked(t, "TASK_STAGING")
		tasks = append(tasks, t)
		s.statusLocked(t, "TASK_RUNNING")
	}
	obj["tasks"] = nonNil(tasks)
	if !spec.HealthCheck {
		s.finishLocked(a)
	}
}

// finishLocked ends an app's deployment: tasks of older versions are
// killed and the deployment succeeds.
func (s *Server) finishLocked(a *app) {
	id := a.obj["id"].(string)
	var keep []any
	for _, t := range taskList(a.obj) {
		if t["version"] != a.obj["version"] {
			s.statusLocked(t, "TASK_KILLING")
			s.statusLocked(t, "TASK_KILLED")
			continue
		}
		keep = append(keep, t)
	}
	a.obj["tasks"] = nonNil(keep)
	a.obj["deployments"] = []any{}
	for i, d := range s.deployments {
		if d.App != id {
			continue
		}
		plan := map[string]any{"id": d.ID, "version": d.Version, "steps": []any{map[string]any{"actions": []any{map[string]any{"action": d.Action, "app": id}}}}}
		s.emitLocked("deployment_step_success", map[string]any{"plan": plan, "currentStep": map[string]any{"actions": []any{map[string]any{"action": d.Action, "app": id}}}})
		s.emitLocked("deployment_success", map[string]any{"id": d.ID, "plan": plan})
		s.deployments = append(s.deployments[:i], s.deployments[i+1:]...)
		break
	}
}

// MarkHealthy makes every task of the app's current version pass its
// health check (health_status_changed_event each) and finishes its
// deployment.
func (s *Server) MarkHealthy(appID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(appID)
	if a == nil {
		return fmt.Errorf("%w: %s", errNoApp, appID)
	}
	a.raw, s.pristine = nil, nil
	for _, t := range taskList(a.obj) {
		if t["version"] != a.obj["version"] {
			continue
		}
		tid := t["id"].(string)
		t["healthCheckResults"] = []any{s.healthResult(tid, true)}
		ev := map[string]any{"appId": appID, "version": t["version"], "alive": true}
		if s.opts.Version == V14 {
			ev["taskId"] = tid
		} else {
			ev["instanceId"] = instanceID(tid)
		}
		s.emitLocked("health_status_changed_event", ev)
		if s.opts.Version == V15 {
			s.emitLocked("instance_health_changed_event", map[string]any{"instanceId": instanceID(tid),
				"runSpecVersion": t["version"], "healthy": true, "runSpecId": appID})
		}
	}
	s.finishLocked(a)
	return nil
}

// KillTask starts killing a task: its state becomes TASK_KILLING and the
// status update is sent. TaskKilled ends it.
func (s *Server) KillTask(taskID string) error {
	return s.task(taskID, func(a *app, i int, t map[string]any) {
		t["state"] = "TASK_KILLING"
		s.statusLocked(t, "TASK_KILLING")
	})
}

// TaskKilled ends a task: TASK_KILLED is sent and the task is gone.
func (s *Server) TaskKilled(taskID string) error {
	return s.task(taskID, func(a *app, i int, t map[string]any) {
		tasks := a.obj["tasks"].([]any)
		a.obj["tasks"] = append(tasks[:i:i], tasks[i+1:]...)
		s.statusLocked(t, "TASK_KILLED")
	})
}

func (s *Server) task(taskID string, f func(a *app, i int, t map[string]any)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.apps {
		tasks, _ := a.obj["tasks"].([]any)
		for i, t := range tasks {
			if m, ok := t.(map[string]any); ok && m["id"] == taskID {
				a.raw, s.pristine = nil, nil
				f(a, i, m)
				return nil
			}
		}
	}
	return fmt.Errorf("fakemarathon: no task %s", taskID)
}

// Tasks are the ids of an app's tasks.
func (s *Server) Tasks(appID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(appID)
	if a == nil {
		return nil
	}
	var ids []string
	for _, t := range taskList(a.obj) {
		ids = append(ids, t["id"].(string))
	}
	return ids
}

// SetApps replaces every app with those of a /v2/apps body, silently (as
// changes made while nobody listened).
func (s *Server) SetApps(body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps, s.pristine = nil, nil
	return s.load(body, true)
}

// AppJSON is an app as the fake serves it now, for golden tests.
func (s *Server) AppJSON(appID string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(appID)
	if a == nil {
		return nil
	}
	b, _ := json.Marshal(a.obj)
	return b
}

// Delete removes an app as DELETE /v2/apps/{id} does, and emits what
// Marathon emits: deployment_info (StopApplication), the kill of each
// task, app_terminated_event and the deployment's success.
func (s *Server) Delete(appID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.apps, func(a *app) bool { return a.obj["id"] == appID })
	if i < 0 {
		return fmt.Errorf("%w: %s", errNoApp, appID)
	}
	a := s.apps[i]
	version := now()
	id := s.nextID()
	plan := map[string]any{"id": id, "version": version, "steps": []any{map[string]any{"actions": []any{map[string]any{"action": "StopApplication", "app": appID}}}}}
	step := map[string]any{"actions": []any{map[string]any{"action": "StopApplication", "app": appID}}}
	s.emitLocked("deployment_info", map[string]any{"plan": plan, "currentStep": step})
	for _, t := range taskList(a.obj) {
		s.statusLocked(t, "TASK_KILLING")
		s.statusLocked(t, "TASK_KILLED")
	}
	s.apps = slices.Delete(s.apps, i, i+1)
	s.pristine = nil
	s.emitLocked("app_terminated_event", map[string]any{"appId": appID})
	s.emitLocked("deployment_step_success", map[string]any{"plan": plan, "currentStep": step})
	s.emitLocked("deployment_success", map[string]any{"id": id, "plan": plan})
	return nil
}
