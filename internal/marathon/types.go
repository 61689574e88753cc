package marathon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Network modes, as Marathon 1.5+ names them and marathon-lb's
// get_app_networking_mode derives them from 1.4 apps.
const (
	ModeHost      = "host"
	ModeBridge    = "container/bridge"
	ModeContainer = "container" // IP per task
)

// Task states a router cares about.
const (
	TaskRunning = "TASK_RUNNING"
	TaskKilling = "TASK_KILLING"
)

// App is a Marathon app as the routers need it, the same for the 1.4 and
// the 1.5+ JSON shapes.
type App struct {
	ID        string
	Version   string
	Instances int
	Labels    map[string]string
	Cmd       string
	Args      []string
	Image     string
	// Mode is ModeHost, ModeBridge or ModeContainer.
	Mode string
	// Ports are the app's ports in port-index order: port mappings in the
	// container modes, port definitions (or the old "ports") in host mode.
	Ports        []Port
	HealthChecks []HealthCheck
	Tasks        []Task
	// Deployments are the ids of the deployments that touch the app.
	Deployments []string
}

// Port is one port of an app.
type Port struct {
	// ContainerPort is set for port mappings and IP-per-task discovery
	// ports; HostPort for mappings; ServicePort is the port Marathon-LB
	// binds for it (a port definition's "port").
	ContainerPort int
	HostPort      int
	ServicePort   int
	Protocol      string
	Name          string
	Labels        map[string]string
}

// HealthCheck is one of an app's health checks.
type HealthCheck struct {
	Protocol  string
	PortIndex int
}

// Task is one task of an app.
type Task struct {
	ID           string
	AppID        string
	Host         string
	State        string
	Version      string
	Ports        []int
	ServicePorts []int
	IPAddresses  []string
	// Health holds one result per health check, absent until the first
	// check result.
	Health []bool
}

// Deployment is a deployment in flight.
type Deployment struct {
	ID           string
	Version      string
	AffectedApps []string
}

// The wire types read both JSON shapes; unknown fields are ignored.

type wireApps struct {
	Apps []json.RawMessage `json:"apps"`
}

type wireApp struct {
	ID        string            `json:"id"`
	Version   string            `json:"version"`
	Instances int               `json:"instances"`
	Labels    map[string]string `json:"labels"`
	Cmd       *string           `json:"cmd"`
	Args      []string          `json:"args"`
	Ports     []int             `json:"ports"`
	PortDefs  []struct {
		Port     int               `json:"port"`
		Protocol string            `json:"protocol"`
		Name     string            `json:"name"`
		Labels   map[string]string `json:"labels"`
	} `json:"portDefinitions"`
	Container *struct {
		Type   string `json:"type"`
		Docker *struct {
			Image        string        `json:"image"`
			Network      string        `json:"network"`
			PortMappings []wireMapping `json:"portMappings"`
		} `json:"docker"`
		PortMappings []wireMapping `json:"portMappings"`
	} `json:"container"`
	IPAddress *struct {
		NetworkName string `json:"networkName"`
		Discovery   *struct {
			Ports []struct {
				Number   int               `json:"number"`
				Name     string            `json:"name"`
				Protocol string            `json:"protocol"`
				Labels   map[string]string `json:"labels"`
			} `json:"ports"`
		} `json:"discovery"`
	} `json:"ipAddress"`
	Networks []struct {
		Mode string `json:"mode"`
		Name string `json:"name"`
	} `json:"networks"`
	HealthChecks []struct {
		Protocol  string `json:"protocol"`
		PortIndex int    `json:"portIndex"`
	} `json:"healthChecks"`
	Tasks       []wireTask `json:"tasks"`
	Deployments []struct {
		ID string `json:"id"`
	} `json:"deployments"`
}

type wireMapping struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      int               `json:"hostPort"`
	ServicePort   int               `json:"servicePort"`
	Protocol      string            `json:"protocol"`
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels"`
}

type wireTask struct {
	ID           string          `json:"id"`
	AppID        string          `json:"appId"`
	Host         string          `json:"host"`
	State        json.RawMessage `json:"state"`
	Version      string          `json:"version"`
	StartedAt    *string         `json:"startedAt"`
	Ports        []int           `json:"ports"`
	ServicePorts []int           `json:"servicePorts"`
	IPAddresses  []struct {
		IPAddress string `json:"ipAddress"`
	} `json:"ipAddresses"`
	HealthCheckResults []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
}

// DecodeApps reads the body of GET /v2/apps: {"apps": [...]}.
func DecodeApps(body []byte) ([]*App, error) {
	var w wireApps
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("apps: %w", err)
	}
	apps := make([]*App, 0, len(w.Apps))
	for _, raw := range w.Apps {
		a, err := DecodeApp(raw)
		if err != nil {
			return nil, err
		}
		apps = append(apps, a)
	}
	return apps, nil
}

// DecodeAppResponse reads the body of GET /v2/apps/{id}: {"app": {...}}.
func DecodeAppResponse(body []byte) (*App, error) {
	var w struct {
		App json.RawMessage `json:"app"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return DecodeApp(w.App)
}

// DecodeApp reads one app JSON object of either shape (an app definition,
// or an app as Marathon answers it, with or without embedded tasks).
func DecodeApp(raw []byte) (*App, error) {
	var w wireApp
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	a := &App{
		ID:        NormalizeID(w.ID),
		Version:   w.Version,
		Instances: w.Instances,
		Labels:    w.Labels,
		Args:      w.Args,
		Mode:      ModeHost,
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if w.Cmd != nil {
		a.Cmd = *w.Cmd
	}
	// The network mode as marathon-lb derives it: ipAddress is IP per
	// task, a docker network overrides it (USER: IP per task, BRIDGE:
	// bridge), and a 1.5 networks list overrides both (its last entry
	// wins).
	var dockerMappings, mappings []wireMapping
	if w.IPAddress != nil {
		a.Mode = ModeContainer
	}
	if c := w.Container; c != nil {
		mappings = c.PortMappings
		if d := c.Docker; d != nil {
			a.Image = d.Image
			dockerMappings = d.PortMappings
			switch strings.ToUpper(d.Network) {
			case "USER":
				a.Mode = ModeContainer
			case "BRIDGE":
				a.Mode = ModeBridge
			}
		}
	}
	for _, n := range w.Networks {
		switch n.Mode {
		case ModeHost, ModeBridge, ModeContainer:
			a.Mode = n.Mode
		}
	}
	if a.Mode == ModeHost {
		for _, p := range w.PortDefs {
			a.Ports = append(a.Ports, Port{ServicePort: p.Port, Protocol: p.Protocol, Name: p.Name, Labels: p.Labels})
		}
		if len(w.PortDefs) == 0 {
			for _, p := range w.Ports {
				a.Ports = append(a.Ports, Port{ServicePort: p})
			}
		}
	} else {
		// 1.5+ puts the mappings on the container, 1.4 on docker.
		if len(mappings) == 0 {
			mappings = dockerMappings
		}
		for _, m := range mappings {
			a.Ports = append(a.Ports, Port(m))
		}
		// A 1.4 IP-per-task app without mappings names its ports in
		// ipAddress.discovery.
		if len(a.Ports) == 0 && w.IPAddress != nil && w.IPAddress.Discovery != nil {
			for _, p := range w.IPAddress.Discovery.Ports {
				a.Ports = append(a.Ports, Port{ContainerPort: p.Number, Protocol: p.Protocol, Name: p.Name, Labels: p.Labels})
			}
		}
	}
	for i := range a.Ports {
		if a.Ports[i].Labels == nil {
			a.Ports[i].Labels = map[string]string{}
		}
	}
	for _, h := range w.HealthChecks {
		a.HealthChecks = append(a.HealthChecks, HealthCheck{Protocol: h.Protocol, PortIndex: h.PortIndex})
	}
	for _, wt := range w.Tasks {
		t := wt.task()
		if t.AppID == "" {
			t.AppID = a.ID
		}
		a.Tasks = append(a.Tasks, t)
	}
	for _, d := range w.Deployments {
		a.Deployments = append(a.Deployments, d.ID)
	}
	return a, nil
}

func (wt wireTask) task() Task {
	t := Task{ID: wt.ID, AppID: NormalizeID(wt.AppID), Host: wt.Host, Version: wt.Version,
		Ports: wt.Ports, ServicePorts: wt.ServicePorts, State: taskState(wt.State)}
	// Older Marathons leave the state out of embedded tasks: a task that
	// has started is running.
	if t.State == "" && wt.StartedAt != nil && *wt.StartedAt != "" {
		t.State = TaskRunning
	}
	for _, ip := range wt.IPAddresses {
		t.IPAddresses = append(t.IPAddresses, ip.IPAddress)
	}
	for _, r := range wt.HealthCheckResults {
		t.Health = append(t.Health, r.Alive)
	}
	return t
}

// taskState reads a task's state defensively: a string, or (as some
// Marathon answers had it) an object with a name.
func taskState(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o map[string]any
	if json.Unmarshal(raw, &o) == nil {
		for _, k := range []string{"name", "state", "value"} {
			if v, ok := o[k].(string); ok {
				return v
			}
		}
	}
	return ""
}

// DecodeTasks reads the body of GET /v2/tasks or /v2/apps/{id}/tasks.
func DecodeTasks(body []byte) ([]Task, error) {
	var w struct {
		Tasks []wireTask `json:"tasks"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	tasks := make([]Task, len(w.Tasks))
	for i, wt := range w.Tasks {
		tasks[i] = wt.task()
	}
	return tasks, nil
}

// DecodeDeployments reads the body of GET /v2/deployments.
func DecodeDeployments(body []byte) ([]Deployment, error) {
	var w []struct {
		ID           string   `json:"id"`
		Version      string   `json:"version"`
		AffectedApps []string `json:"affectedApps"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("deployments: %w", err)
	}
	ds := make([]Deployment, len(w))
	for i, d := range w {
		apps := make([]string, len(d.AffectedApps))
		for j, id := range d.AffectedApps {
			apps[j] = NormalizeID(id)
		}
		ds[i] = Deployment{ID: d.ID, Version: d.Version, AffectedApps: apps}
	}
	return ds, nil
}

// NormalizeID gives an app id its leading slash, as Marathon does.
func NormalizeID(id string) string {
	if id == "" || strings.HasPrefix(id, "/") {
		return id
	}
	return "/" + id
}

// HasHealthChecks says whether Marathon checks the app's tasks.
func (a *App) HasHealthChecks() bool { return len(a.HealthChecks) > 0 }

// Healthy says whether a task may take traffic: it is running (not being
// killed) and, when the app has health checks, every check has a result
// and all of them are alive. A task with no result yet is not healthy, as
// marathon-lb and go-marathon's ApplicationOK count it.
func (a *App) Healthy(t Task) bool {
	if t.State != TaskRunning {
		return false
	}
	if !a.HasHealthChecks() {
		return true
	}
	return len(t.Health) > 0 && !slices.Contains(t.Health, false)
}

// Address is where a task serves the app's port index i: the task's IP and
// the container port on an IP-per-task network, else the agent and the host
// port. ok is false when the task has no such port (yet).
func (a *App) Address(t Task, i int) (host string, port int, ok bool) {
	if a.Mode == ModeContainer {
		if len(t.IPAddresses) == 0 || i >= len(a.Ports) || a.Ports[i].ContainerPort == 0 {
			return "", 0, false
		}
		return t.IPAddresses[0], a.Ports[i].ContainerPort, true
	}
	if i >= len(t.Ports) || t.Host == "" || t.Ports[i] == 0 {
		return "", 0, false
	}
	return t.Host, t.Ports[i], true
}

// clone copies the app deeply enough for copy-on-write of tasks.
func (a *App) clone() *App {
	c := *a
	c.Tasks = slices.Clone(a.Tasks)
	return &c
}
