package marathon

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/turnout/turnout/plugins/sdk"
)

// Resolution is what a backend makes of one target in one model.
type Resolution struct {
	Endpoints []sdk.Endpoint
	Ready     bool
	Reason    string
}

// Resolve turns a model into a target's endpoints and readiness.
type Resolve func(m *Model) Resolution

// Snapshots streams a target's snapshots from the watcher's model: one as
// soon as Marathon was read (or could not be), then one after every change
// of what the target resolves to. While Marathon is unreachable the last
// endpoints stay, with Error set: an outage never empties a route.
func Snapshots(ctx context.Context, w *Watcher, resolve Resolve) <-chan sdk.Snapshot {
	out := make(chan sdk.Snapshot)
	changed, cancel := w.Subscribe()
	go func() {
		defer close(out)
		defer cancel()
		var last *sdk.Snapshot
		var rev uint64
		for {
			m, err := w.Model(), w.Err()
			var s sdk.Snapshot
			switch {
			case m != nil:
				r := resolve(m)
				s = sdk.Snapshot{Endpoints: r.Endpoints, Ready: r.Ready, Reason: r.Reason}
				if err != nil {
					s.Error = fmt.Sprintf("%v (serving what was read at %s)", err, m.Fetched.Format("15:04:05"))
				}
			case err != nil:
				s = sdk.Snapshot{Reason: "Marathon was not read yet", Error: err.Error()}
			}
			if (m != nil || err != nil) && (last == nil || !sameSnapshot(*last, s)) {
				rev++
				s.Revision = rev
				select {
				case out <- s:
				case <-ctx.Done():
					return
				}
				last = &s
			}
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
		}
	}()
	return out
}

func sameSnapshot(a, b sdk.Snapshot) bool {
	return a.Ready == b.Ready && a.Reason == b.Reason && a.Error == b.Error &&
		slices.EqualFunc(a.Endpoints, b.Endpoints, func(x, y sdk.Endpoint) bool {
			return x.Address == y.Address && x.Healthy == y.Healthy && x.Host == y.Host && maps.Equal(x.Labels, y.Labels)
		})
}

// Shared is the one watcher of a plugin process, started by the first
// Watch and shared by all of them (one event stream per process, however
// many routes).
type Shared struct {
	mu      sync.Mutex
	cfg     Config
	w       *Watcher
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
}

// Configure sets the configuration; it must come before the first Get.
func (s *Shared) Configure(raw []byte) (Config, error) {
	c, err := ParseConfig(raw)
	if err != nil {
		return Config{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return Config{}, fmt.Errorf("configuration: already watching Marathon")
	}
	s.cfg = c
	return c, nil
}

// Get returns the running watcher, starting it on first use.
func (s *Shared) Get() (*Watcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		return s.w, nil
	}
	w, err := NewWatcher(s.cfg.WithDefaults(), sdk.Logger())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.w, s.cancel, s.done, s.started = w, cancel, make(chan struct{}), true
	go func() {
		defer close(s.done)
		w.Run(ctx)
	}()
	return w, nil
}

// Close stops the watcher and waits for it.
func (s *Shared) Close() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

// Ref is a parsed "/app-id[:n]" (or "/app-id:port-name") target reference.
type Ref struct {
	AppID string
	// N is the number after the colon, HasN whether there was one.
	N    int
	HasN bool
	// PortName is a port's name after the colon instead of a number
	// (Vamp's deployment/cluster/service/port references name the port).
	PortName string
}

// ParseRef reads "/app-id[:n]" or "/app-id:port-name". Marathon app ids
// cannot contain ":", so what follows the last one is the number or name.
func ParseRef(scheme, ref string) (Ref, error) {
	id, num, hasN := strings.Cut(ref, ":")
	if strings.Contains(num, ":") {
		return Ref{}, fmt.Errorf("%s: target %q: want %s:/app-id[:number]", scheme, ref, scheme)
	}
	r := Ref{AppID: NormalizeID(strings.TrimSpace(id)), HasN: hasN}
	if r.AppID == "" || r.AppID == "/" || strings.ContainsAny(r.AppID, " ?#") {
		return Ref{}, fmt.Errorf("%s: target %q: want %s:/app-id[:number]", scheme, ref, scheme)
	}
	if hasN {
		n, err := strconv.Atoi(num)
		switch {
		case err != nil && portName.MatchString(num):
			r.PortName, r.HasN = num, false
		case err != nil || n < 0 || n > 65535:
			return Ref{}, fmt.Errorf("%s: target %q: %q is not a number or a port name", scheme, ref, num)
		default:
			r.N = n
		}
	}
	return r, nil
}

// portName is Marathon's rule for port names (PortDefinition.name).
var portName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// byName resolves r's port name to its index in a ("" when it has one).
func (r Ref) byName(a *App) (Ref, string) {
	if r.PortName == "" {
		return r, ""
	}
	var names []string
	for i, p := range a.Ports {
		if p.Name == r.PortName {
			r.N, r.HasN = i, true
			return r, ""
		}
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return r, fmt.Sprintf("app %s has no port named %s (its ports have no names)", a.ID, r.PortName)
	}
	return r, fmt.Sprintf("app %s has no port named %s (its ports: %s)", a.ID, r.PortName, strings.Join(names, ", "))
}
