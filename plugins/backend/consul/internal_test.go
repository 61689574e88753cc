package consul

import (
	"testing"
	"time"
)

func TestNextIndex(t *testing.T) {
	for _, tc := range []struct {
		name            string
		prev, got, want uint64
	}{
		{"first answer", 0, 42, 42},
		{"moved on", 42, 50, 50},
		{"unchanged (timeout)", 42, 42, 42},
		{"went backwards: start over", 42, 7, 0},
		{"zero on a fresh start: block on 1", 0, 0, 1},
		{"zero after blocking: backwards, start over", 42, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextIndex(tc.prev, tc.got); got != tc.want {
				t.Errorf("nextIndex(%d, %d) = %d, want %d", tc.prev, tc.got, got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	for _, tc := range []struct {
		n    int
		step time.Duration
	}{
		{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond}, {5, time.Second}, {50, time.Second},
	} {
		for range 100 {
			if d := backoff(tc.n, lo, hi); d < tc.step/2 || d > tc.step {
				t.Fatalf("backoff(%d) = %v, want %v..%v", tc.n, d, tc.step/2, tc.step)
			}
		}
	}
}

// Refs that differ only in spelling are one query, so one watch.
func TestRefKeys(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"web?tag=1&tag=2", "web?tag=2&tag=1", true},
		{"web", "web?passing=true", true},
		{"web", "web?passing=1", true},
		{"web?dc=dc1&tag=x", "web?tag=x&dc=dc1", true},
		{"web", "web?passing=false", false},
		{"web?tag=1", "web?tag=2", false},
		{"web", "web?dc=dc2", false},
		{"web", "web?near=_agent", false},
		{"web", "api", false},
	} {
		qa, err := parseRef(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		qb, err := parseRef(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if (qa.key() == qb.key()) != tc.same {
			t.Errorf("%q and %q: same=%v, want %v", tc.a, tc.b, !tc.same, tc.same)
		}
	}
	q, _ := parseRef("web?tag=b&tag=a&passing=false&near=n1")
	if got := q.String(); got != "web?near=n1&passing=false&tag=a&tag=b" {
		t.Errorf("String() = %q", got)
	}
}
