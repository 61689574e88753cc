package gateway

import (
	"strconv"
	"testing"
)

func TestParseWeight(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Weight
		err  string
	}{
		{in: "50%", want: 5000},
		{in: "0%", want: 0},
		{in: "100%", want: Full},
		{in: "100.00%", want: Full},
		{in: "0.5%", want: 50},
		{in: "33.33%", want: 3333},
		{in: "007%", want: 700},
		{in: " 50 % ", want: 5000},
		{in: "\t1.1%\n", want: 110},
		{in: "50", err: `weight must be a percentage like "50%", got "50"`},
		{in: "", err: `weight must be a percentage like "50%", got ""`},
		{in: "%", err: `weight must be a percentage like "50%", got "%"`},
		{in: "fifty%", err: `weight must be a percentage like "50%", got "fifty%"`},
		{in: "-1%", err: `weight must be a percentage like "50%", got "-1%"`},
		{in: ".5%", err: `weight must be a percentage like "50%", got ".5%"`},
		{in: "5.%", err: `weight must be a percentage like "50%", got "5.%"`},
		{in: "0.001%", err: `weight must be a percentage like "50%" with at most 2 decimals, got "0.001%"`},
		{in: "100.01%", err: `weight must be between 0% and 100%, got "100.01%"`},
		{in: "1000%", err: `weight must be between 0% and 100%, got "1000%"`},
		{in: "99999999999999999999%", err: `weight must be between 0% and 100%, got "99999999999999999999%"`},
	} {
		got, err := ParseWeight(c.in)
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("ParseWeight(%q) error = %v, want %s", c.in, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseWeight(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestWeightString(t *testing.T) {
	for w, want := range map[Weight]string{
		0: "0%", 50: "0.5%", 5: "0.05%", 3333: "33.33%", 1050: "10.5%", 5000: "50%", Full: "100%", -150: "-1.5%",
	} {
		if got := w.String(); got != want {
			t.Errorf("Weight(%d).String() = %q, want %q", w, got, want)
		}
	}
	// Every weight reads back as itself.
	for w := Weight(0); w <= Full; w++ {
		if back, err := ParseWeight(w.String()); err != nil || back != w {
			t.Fatalf("ParseWeight(%q) = %d, %v; want %d", w.String(), back, err, w)
		}
	}
}

func TestAssignWeights(t *testing.T) {
	even := func(n int) []Weight {
		routes := make([]Route, n)
		for i := range routes {
			routes[i].Name = strconv.Itoa(i)
		}
		if err := assignWeights(routes, make([]bool, n)); err != nil {
			t.Fatal(err)
		}
		ws := make([]Weight, n)
		for i, r := range routes {
			ws[i] = r.Weight
		}
		return ws
	}
	for n, want := range map[int][]Weight{
		1: {Full},
		2: {5000, 5000},
		3: {3300, 3300, 3400},
		6: {1600, 1600, 1600, 1600, 1600, 2000},
		7: {1400, 1400, 1400, 1400, 1400, 1400, 1600},
	} {
		got := even(n)
		if len(got) != len(want) {
			t.Fatalf("%d routes: %v", n, got)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%d routes: got %v, want %v", n, got, want)
				break
			}
		}
	}
	// More routes than percents: whole percents still, all to the last.
	if got := even(101); got[0] != 0 || got[100] != Full {
		t.Errorf("101 routes: first %v, last %v", got[0], got[100])
	}
}
