package marathon

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

// TestMain lets the test binary serve a fake Marathon as a process of its
// own (fakemarathon.StartProcess), which a test can stop with SIGSTOP.
func TestMain(m *testing.M) {
	fakemarathon.ServeProcess()
	os.Exit(m.Run())
}

// hostPorts are the first host port of each of the app's tasks.
func hostPorts(m *Model, app string) []int {
	a, ok := m.App(app)
	if !ok {
		return nil
	}
	var ports []int
	for _, t := range a.Tasks {
		if len(t.Ports) > 0 {
			ports = append(ports, t.Ports[0])
		}
	}
	slices.Sort(ports)
	return ports
}

// A hung member: the first of two Marathons is stopped with SIGSTOP (its
// socket still accepts, nothing answers) while the watcher's event stream
// is on it. Its member check fails within member_timeout, its stream is
// cut, the stream moves to the second member, and a change made there is
// followed within a few seconds, with the default deadlines. (Marathon
// cannot run here: both members are fakes serving recorded shapes; they
// do not share state, so each is given the same app.)
func TestWatcherLeavesAHungMember(t *testing.T) {
	first := fakemarathon.StartProcess(t, fakemarathon.V15)
	second := fakemarathon.New(t, fakemarathon.Options{})
	v1 := fakemarathon.AppSpec{ID: "/web", Instances: 1, Network: fakemarathon.Host,
		Ports: []fakemarathon.PortSpec{{ServicePort: 10001}}, TaskPorts: [][]int{{31001}}}
	first.Deploy(v1)
	second.Deploy(v1)
	w := watch(t, Config{URLs: []string{first.URL(), second.URL()}, Resync: Duration(time.Hour)})
	until(t, w, "the app read", func(m *Model) bool { return slices.Equal(hostPorts(m, "/web"), []int{31001}) })
	testnet.Eventually(t, 10*time.Second, "the event stream on the first member", func() bool { return w.Stats().Member == first.URL() })

	first.Freeze()
	frozen := time.Now()
	v2 := v1
	v2.TaskPorts = [][]int{{31002}}
	second.Deploy(v2)
	testnet.Eventually(t, 20*time.Second, "the change on the second member followed", func() bool {
		return slices.Equal(hostPorts(w.Model(), "/web"), []int{31002})
	})
	followed := time.Since(frozen)
	st := w.Stats()
	t.Logf("hung first member: change on the second followed %v after SIGSTOP; stream on %s, %d switches, %d members down",
		followed.Round(time.Millisecond), st.Member, st.Switches, st.MembersDown)
	testnet.Eventually(t, 10*time.Second, "the event stream on the second member", func() bool { return w.Stats().Member == second.URL() })
	if st := w.Stats(); st.Switches < 1 || st.MembersDown < 1 {
		t.Errorf("stats %+v: want a switch and a member down counted", st)
	}
	// From now on events on the second member are followed: a change
	// made there arrives without a timer.
	v3 := v1
	v3.TaskPorts = [][]int{{31003}}
	second.Deploy(v3)
	until(t, w, "a later change on the second member", func(m *Model) bool { return slices.Equal(hostPorts(m, "/web"), []int{31003}) })
}

// A member hung before the watcher starts: the first read and the first
// attach, both sent to it, are cut when it fails its first check, and the
// second member serves both within a few seconds.
func TestWatcherStartsPastAHungMember(t *testing.T) {
	first := fakemarathon.StartProcess(t, fakemarathon.V15)
	second := fakemarathon.New(t, fakemarathon.Options{})
	second.Deploy(fakemarathon.AppSpec{ID: "/web", Instances: 1, Network: fakemarathon.Host,
		Ports: []fakemarathon.PortSpec{{ServicePort: 10001}}, TaskPorts: [][]int{{31001}}})
	first.Freeze()
	start := time.Now()
	w := watch(t, Config{URLs: []string{first.URL(), second.URL()}, Resync: Duration(time.Hour)})
	testnet.Eventually(t, 20*time.Second, "the app read from the second member and its stream attached", func() bool {
		return slices.Equal(hostPorts(w.Model(), "/web"), []int{31001}) && w.Stats().Member == second.URL()
	})
	t.Logf("first member hung at start: read and stream on the second %v after start", time.Since(start).Round(time.Millisecond))
}
