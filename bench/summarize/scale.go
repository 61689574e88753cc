package main

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// scaleKey is one case of a scale benchmark: its size (routes, gateways)
// and its operation.
type scaleKey struct {
	n  int
	op string
}

// scaleResults reads a scale benchmark's results from `go test -bench
// -benchmem` output: per case, every value of each unit (ns/op, B/op, a
// custom metric), and the sizes in increasing order. line matches a
// result line, with the size and the operation as its two groups.
func scaleResults(out []byte, line *regexp.Regexp) (map[scaleKey]map[string][]float64, []int) {
	vals := map[scaleKey]map[string][]float64{}
	for _, l := range strings.Split(string(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		k := scaleKey{n, m[2]}
		if vals[k] == nil {
			vals[k] = map[string][]float64{}
		}
		f := strings.Fields(l)
		for i := 1; i+1 < len(f); i++ {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				vals[k][f[i+1]] = append(vals[k][f[i+1]], v)
			}
		}
	}
	var sizes []int
	seen := map[int]bool{}
	for k := range vals {
		if !seen[k.n] {
			seen[k.n] = true
			sizes = append(sizes, k.n)
		}
	}
	sort.Ints(sizes)
	return vals, sizes
}
