package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/internal/zktest"
)

// startZK starts ZooKeeper with a store at /t, as agents have.
func startZK(t *testing.T) *zktest.Server {
	srv := zktest.Start(t)
	st, err := store.OpenZK(context.Background(), store.ZKConfig{Servers: []string{srv.Addr()}, Path: "/t"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return srv
}

const testSession = 2 * time.Second

func candidate(t *testing.T, server, id string) *Election {
	t.Helper()
	e, err := Start(Config{Servers: []string{server}, Path: "/t", SessionTimeout: testSession,
		Info: Info{ID: id, Admin: id + ":9880", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func leaders(es ...*Election) []int {
	var out []int
	for i, e := range es {
		if l, _ := e.Leading(); l {
			out = append(out, i)
		}
	}
	return out
}

// neverTwo fails the test if two candidates ever lead at once, sampling
// until the test ends.
func neverTwo(t *testing.T, es ...*Election) {
	var twice atomic.Value
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if l := leaders(es...); len(l) > 1 {
				twice.Store(fmt.Sprint(l))
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		if v := twice.Load(); v != nil {
			t.Errorf("two agents led at once: %v", v)
		}
	})
}

func TestOneLeaderThenTheNext(t *testing.T) {
	srv := startZK(t)
	es := []*Election{candidate(t, srv.Addr(), "a"), candidate(t, srv.Addr(), "b"), candidate(t, srv.Addr(), "c")}
	neverTwo(t, es...)
	testnet.Eventually(t, 20*time.Second, "one leader", func() bool { return len(leaders(es...)) == 1 })
	first := leaders(es...)[0]

	var st Status
	testnet.Eventually(t, 10*time.Second, "three agents listed", func() bool {
		var err error
		st, err = es[0].Status(context.Background())
		return err == nil && len(st.Agents) == 3
	})
	if st.Leader != es[first].info.ID || !st.Agents[0].Leader || st.Agents[1].Leader || st.Agents[2].Leader {
		t.Fatalf("status: leader %q, agents %+v; want %q first and only", st.Leader, st.Agents, es[first].info.ID)
	}

	// The leader withdraws: another leads, at once.
	_, changed := es[first].Leading()
	es[first].Close()
	select {
	case <-changed:
	default:
		t.Fatal("Close did not signal the end of leading")
	}
	rest := append(append([]*Election{}, es[:first]...), es[first+1:]...)
	testnet.Eventually(t, 10*time.Second, "the next leader", func() bool { return len(leaders(rest...)) == 1 })
}

func TestAppliedVersionPublished(t *testing.T) {
	srv := startZK(t)
	e := candidate(t, srv.Addr(), "a")
	testnet.Eventually(t, 20*time.Second, "a leader", func() bool { return len(leaders(e)) == 1 })
	e.SetApplied(7)
	testnet.Eventually(t, 10*time.Second, "applied version 7 published", func() bool {
		st, err := e.Status(context.Background())
		return err == nil && len(st.Agents) == 1 && st.Agents[0].Applied == 7
	})
}

// A leader cut off from ZooKeeper stops leading at once; another leads
// once ZooKeeper expires the lost session.
func TestLeaderPartitioned(t *testing.T) {
	srv := startZK(t)
	proxy := zktest.NewProxy(t, srv.Addr())
	a := candidate(t, proxy.Addr(), "a")
	testnet.Eventually(t, 20*time.Second, "a leads", func() bool { return len(leaders(a)) == 1 })
	b := candidate(t, srv.Addr(), "b")
	neverTwo(t, a, b)
	testnet.Eventually(t, 10*time.Second, "b listed", func() bool {
		st, err := b.Status(context.Background())
		return err == nil && len(st.Agents) == 2
	})
	if l := leaders(a, b); len(l) != 1 || l[0] != 0 {
		t.Fatalf("leaders %v, want a", l)
	}
	sid := a.conn.SessionID()
	proxy.Cut()
	testnet.Eventually(t, 10*time.Second, "a stops leading", func() bool { return len(leaders(a)) == 0 })
	testnet.Eventually(t, 30*time.Second, "b leads after a's session expired", func() bool { return len(leaders(b)) == 1 })
	if srv.HasSession(sid) {
		t.Fatal("b leads while a's session is alive")
	}
	// a comes back with a new session, behind b.
	proxy.Restore()
	testnet.Eventually(t, 30*time.Second, "a stands again", func() bool {
		st, err := a.Status(context.Background())
		return err == nil && len(st.Agents) == 2
	})
	if l := leaders(a, b); len(l) != 1 || l[0] != 1 {
		t.Fatalf("leaders %v, want b", l)
	}
}

// While ZooKeeper is down, nobody leads; when it is back, one does.
func TestZooKeeperDownNobodyLeads(t *testing.T) {
	srv := startZK(t)
	a, b := candidate(t, srv.Addr(), "a"), candidate(t, srv.Addr(), "b")
	neverTwo(t, a, b)
	testnet.Eventually(t, 20*time.Second, "one leader", func() bool { return len(leaders(a, b)) == 1 })
	srv.Stop()
	testnet.Eventually(t, 10*time.Second, "nobody leads", func() bool { return len(leaders(a, b)) == 0 })
	srv.Restart()
	testnet.Eventually(t, 30*time.Second, "one leader again", func() bool { return len(leaders(a, b)) == 1 })
}
