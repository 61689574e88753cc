// Command summarize turns the raw results of bench/run.sh and bench/reload.sh
// (TSV files in bench/out/<timestamp>-run and -reload) into docs/performance.md.
//
//	summarize -run bench/out/20261126-101500-run -reload bench/out/20261126-102300-reload -upload bench/out/20261126-103100-upload -o docs/performance.md
//
// Either input may be left out; the doc then says so. Every number in the doc is
// computed here from the TSVs, so the doc can be regenerated from the raw output.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	runDir := flag.String("run", "", "output directory of bench/run.sh")
	reloadDir := flag.String("reload", "", "output directory of bench/reload.sh")
	out := flag.String("o", "docs/performance.md", "Markdown file to write")
	goBench := flag.String("gobench", "", "output of `make bench-go` (go test -bench) to include")
	uploadDir := flag.String("upload", "", "output directory of bench/upload.sh")
	clusterDir := flag.String("cluster", "", "output directory of bench/cluster.sh")
	flag.Parse()
	if *runDir == "" && *reloadDir == "" && *uploadDir == "" && *clusterDir == "" {
		if *goBench != "" {
			// Only Go benchmarks: refresh the gateway scale section of the
			// document, keep the rest (the other Go sections quote a whole
			// `make bench-go` run together with bench/run.sh's).
			if err := gatewayScaleOnly(*goBench, *out); err != nil {
				fatal(err)
			}
			return
		}
		fmt.Fprintln(os.Stderr, "summarize: give -run, -reload, -upload, -cluster and/or -gobench")
		os.Exit(2)
	}
	var cluster *clusterData
	if *clusterDir != "" {
		c, err := loadCluster(*clusterDir)
		if err != nil {
			fatal(err)
		}
		cluster = c
	}
	var d doc
	if *runDir != "" {
		r, err := loadRun(*runDir)
		if err != nil {
			fatal(err)
		}
		d.run = r
	}
	if *reloadDir != "" {
		r, err := loadReload(*reloadDir)
		if err != nil {
			fatal(err)
		}
		d.reload = r
	}
	if *uploadDir != "" {
		u, err := loadUpload(*uploadDir)
		if err != nil {
			fatal(err)
		}
		d.upload = u
	}
	if *goBench != "" {
		b, err := os.ReadFile(*goBench)
		if err != nil {
			fatal(err)
		}
		d.goBench = b
	}
	if d.run == nil && d.reload == nil {
		// Only uploads and/or the cluster: replace those sections of the
		// document, keep the rest.
		if old, err := os.ReadFile(*out); err == nil && strings.HasPrefix(string(old), "# Performance") {
			text := string(old)
			if d.upload != nil {
				text, _ = uploadsOnly(d.upload, *out)
			}
			if cluster != nil {
				text = spliceSection(text, clusterHeading, cluster.section())
			}
			if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
				fatal(err)
			}
			return
		}
	}
	text := d.render()
	if cluster != nil {
		text = spliceSection(text, clusterHeading, cluster.section())
	}
	if d.goBench != nil {
		text += routeScaleSection(d.goBench)
		text += gatewayScaleSection(d.goBench)
		text += goBenchSection(d.goBench)
	}
	if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		fatal(err)
	}
}

// goBenchSection quotes the Go benchmarks of the request path and of the
// control plane, as `make bench-go` printed them.
func goBenchSection(out []byte) string {
	var b strings.Builder
	b.WriteString("\n## Go benchmarks (`make bench-go`)\n\n")
	b.WriteString("`go test -run '^$' -bench . -skip GatewayScale -benchmem -count 5` on the packages of the request path, and the\n")
	b.WriteString("control plane's update latency (`BenchmarkAPIUpdateToTraffic`: a PATCH of the weights through the\n")
	b.WriteString("REST API, the bbolt store with fsync, the engine and the data plane, until the first request\n")
	b.WriteString("is answered by the newly weighted backend). Same machine, same run as the tables above.\n\n```\n")
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") || strings.HasPrefix(line, "cpu:") {
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("```\n")
	return b.String()
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "summarize:", err)
	os.Exit(1)
}

// ---------------------------------------------------------------- input

type table struct {
	header []string
	rows   []map[string]string
}

func readTSV(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &table{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if t.header == nil {
			t.header = cols
			continue
		}
		row := map[string]string{}
		for i, h := range t.header {
			if i < len(cols) {
				row[h] = cols[i]
			}
		}
		t.rows = append(t.rows, row)
	}
	return t, sc.Err()
}

// readKV reads "key=value" (meta.env) or "key: value" (machine.txt) lines, in order.
func readKV(path, sep string) ([][2]string, map[string]string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, map[string]string{}
	}
	var list [][2]string
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, sep)
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		list = append(list, [2]string{k, v})
		m[k] = v
	}
	return list, m
}

func num(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(b), "\n")
}

type runData struct {
	dir        string
	rows       []map[string]string
	meta       map[string]string
	machine    [][2]string
	skipped    map[string]string // contender -> reason
	clkTck     float64
	reps       []string
	names      []string // contenders in run order
	configs    map[string]string
	duration   string
	turnoutCmd string
}

func loadRun(dir string) (*runData, error) {
	dir = realDir(dir)
	t, err := readTSV(filepath.Join(dir, "run.tsv"))
	if err != nil {
		return nil, err
	}
	r := &runData{dir: dir, rows: t.rows, skipped: map[string]string{}, configs: map[string]string{}}
	_, r.meta = readKV(filepath.Join(dir, "meta.env"), "=")
	r.machine, _ = readKV(filepath.Join(dir, "machine.txt"), ":")
	r.clkTck = 100
	if v, ok := num(r.meta["CLK_TCK"]); ok && v > 0 {
		r.clkTck = v
	}
	if s, err := readTSV(filepath.Join(dir, "skipped.tsv")); err == nil {
		for _, row := range s.rows {
			r.skipped[row["contender"]] = row["reason"]
		}
	}
	seenRep, seenName := map[string]bool{}, map[string]bool{}
	for _, row := range t.rows {
		if !seenRep[row["rep"]] {
			seenRep[row["rep"]] = true
			r.reps = append(r.reps, row["rep"])
		}
	}
	for _, c := range strings.Fields(r.meta["CONTENDERS"]) {
		if !seenName[c] {
			seenName[c] = true
			r.names = append(r.names, c)
		}
	}
	for _, row := range t.rows {
		if !seenName[row["contender"]] {
			seenName[row["contender"]] = true
			r.names = append(r.names, row["contender"])
		}
	}
	r.duration = r.meta["DURATION"]
	r.turnoutCmd = readFile(filepath.Join(dir, "rep1/turnout-http/turnout.cmd"))
	for name, rel := range map[string]string{
		"haproxy-http": "rep1/haproxy-http/haproxy.cfg",
		"haproxy-tcp":  "rep1/haproxy-tcp/haproxy.cfg",
		"nginx":        "rep1/nginx/nginx/nginx.conf",
		"turnout":      "rep1/turnout-http/gateways.yaml",
	} {
		if s := readFile(filepath.Join(dir, rel)); s != "" {
			// show paths inside the run directory relative to it
			r.configs[name] = strings.ReplaceAll(s, filepath.Join(dir, filepath.Dir(rel))+"/", "")
		}
	}
	return r, nil
}

// cell returns the rows of one contender and load, keyed by repetition.
func (r *runData) cell(contender, load string) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, row := range r.rows {
		if row["contender"] == contender && row["load"] == load {
			m[row["rep"]] = row
		}
	}
	return m
}

type reloadData struct {
	dir     string
	rows    []map[string]string
	phases  []map[string]string
	meta    map[string]string
	machine [][2]string
	methods []string
	reps    []string
	configs map[string]string
}

func loadReload(dir string) (*reloadData, error) {
	dir = realDir(dir)
	t, err := readTSV(filepath.Join(dir, "reload.tsv"))
	if err != nil {
		return nil, err
	}
	r := &reloadData{dir: dir, rows: t.rows, configs: map[string]string{}}
	if p, err := readTSV(filepath.Join(dir, "phases.tsv")); err == nil {
		r.phases = p.rows
	}
	_, r.meta = readKV(filepath.Join(dir, "meta.env"), "=")
	r.machine, _ = readKV(filepath.Join(dir, "machine.txt"), ":")
	seenM, seenR := map[string]bool{}, map[string]bool{}
	for _, m := range strings.Fields(r.meta["METHODS"]) {
		if !seenM[m] {
			seenM[m] = true
			r.methods = append(r.methods, m)
		}
	}
	for _, row := range t.rows {
		if !seenM[row["method"]] {
			seenM[row["method"]] = true
			r.methods = append(r.methods, row["method"])
		}
		if !seenR[row["rep"]] {
			seenR[row["rep"]] = true
			r.reps = append(r.reps, row["rep"])
		}
	}
	return r, nil
}

// ---------------------------------------------------------------- statistics

func median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// field collects a numeric column over the repetitions of a cell, in repetition order.
func field(cell map[string]map[string]string, reps []string, col string) []float64 {
	var xs []float64
	for _, rep := range reps {
		if row, ok := cell[rep]; ok {
			if v, ok := num(row[col]); ok {
				xs = append(xs, v)
			}
		}
	}
	return xs
}

// ratio is the median over repetitions of a/b, each pair from the same repetition.
func ratio(a, b map[string]map[string]string, reps []string, col string) (float64, int, bool) {
	var xs []float64
	for _, rep := range reps {
		ra, okA := a[rep]
		rb, okB := b[rep]
		if !okA || !okB {
			continue
		}
		va, ok1 := num(ra[col])
		vb, ok2 := num(rb[col])
		if ok1 && ok2 && vb > 0 {
			xs = append(xs, va/vb)
		}
	}
	m, ok := median(xs)
	return m, len(xs), ok
}

// ---------------------------------------------------------------- formatting

func fmtInt(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtLat(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0f µs", us)
	case us < 100000:
		return fmt.Sprintf("%.2f ms", us/1000)
	default:
		return fmt.Sprintf("%.0f ms", us/1000)
	}
}

func fmtX(v float64) string { return fmt.Sprintf("%.2fx", v) }

func orDash(s string, ok bool) string {
	if !ok {
		return "-"
	}
	return s
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

func joinF(xs []float64, f func(float64) string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = f(x)
	}
	return strings.Join(parts, " / ")
}

// durSeconds parses wrk-style durations: "10s", "2m", "500ms".
func durSeconds(s string) float64 {
	s = strings.TrimSpace(s)
	for _, u := range []struct {
		suf string
		mul float64
	}{{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}} {
		if strings.HasSuffix(s, u.suf) {
			if v, ok := num(strings.TrimSuffix(s, u.suf)); ok {
				return v * u.mul
			}
		}
	}
	if v, ok := num(s); ok {
		return v
	}
	return 0
}

// ---------------------------------------------------------------- the document

type doc struct {
	run     *runData
	reload  *reloadData
	upload  *uploadData
	goBench []byte // output of `make bench-go`, if given
	b       strings.Builder
}

func (d *doc) p(format string, a ...any) { fmt.Fprintf(&d.b, format+"\n", a...) }

func (d *doc) render() string {
	d.p("# Performance")
	d.p("")
	d.p("Generated by `make bench` (`bench/run.sh`, `bench/reload.sh`, then `bench/upload.sh`; the summary is written by")
	d.p("`bench/summarize`). Do not edit by hand: rerun the benchmark, or `bench/bin/summarize -run DIR -reload DIR -upload DIR -gobench bench/out/go-bench.txt`")
	d.p("on the raw output in `bench/out/`. Everything ran on one machine, over 127.0.0.1 only, in")
	d.p("the same run: compare the ratios, not the absolute numbers, with other machines or days.")
	d.p("")
	if d.run != nil {
		d.targets()
		d.throughput()
		d.cores()
		d.perRep()
	} else {
		d.p("No throughput run (`bench/run.sh`) has finished yet.")
		d.p("")
	}
	if d.reload != nil {
		d.reloads()
	} else {
		d.p("## Weight changes under load")
		d.p("")
		d.p("No run of `bench/reload.sh` has finished yet.")
		d.p("")
	}
	if d.upload != nil {
		d.uploads()
	} else {
		d.p("## Uploads")
		d.p("")
		d.p("No run of `bench/upload.sh` has finished yet.")
		d.p("")
	}
	d.machine()
	d.method()
	return d.b.String()
}

func (d *doc) repsLabel() string {
	n := len(d.run.reps)
	if n == 1 {
		return "1 repetition, no median"
	}
	return fmt.Sprintf("median of %d repetitions", n)
}

// bestTurnoutName etc.: the contenders the targets compare.
func (d *doc) targets() {
	r := d.run
	d.p("## Targets")
	d.p("")
	d.p("Turnout against the peers measured in this run (c64 = `wrk -t1 -c64`, c8 = `wrk -t1 -c8`).")
	d.p("Ratios of req/s are taken within each repetition; figures: %s.", d.repsLabel())
	d.p("")
	d.p("| target | measured | met |")
	d.p("|---|---|---|")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	th := r.cell("turnout-http", "c64")
	tt := r.cell("turnout-tcp", "c64")
	hh := r.cell("haproxy-http", "c64")
	ng := r.cell("nginx", "c64")
	ht := r.cell("haproxy-tcp", "c64")
	if len(th) == 0 {
		d.p("| HTTP req/s >= max(HAProxy, nginx) | turnout-http not measured: %s | - |", d.skipReason("turnout-http"))
	} else {
		var parts []string
		met := true
		for _, peer := range []struct {
			name string
			cell map[string]map[string]string
		}{{"HAProxy", hh}, {"nginx", ng}} {
			if x, _, ok := ratio(th, peer.cell, r.reps, "rps"); ok {
				parts = append(parts, fmtX(x)+" "+peer.name)
				met = met && x >= 1
			}
		}
		if len(parts) > 0 {
			d.p("| HTTP req/s (c64) >= max(HAProxy, nginx) | %s | %s |", strings.Join(parts, ", "), yes(met))
		}
		for _, load := range []string{"c64", "c8"} {
			tp, ok1 := median(field(r.cell("turnout-http", load), r.reps, "p99_us"))
			hp, ok2 := median(field(r.cell("haproxy-http", load), r.reps, "p99_us"))
			if ok1 && ok2 {
				d.p("| HTTP p99 (%s) <= HAProxy's | %s vs %s | %s |", load, fmtLat(tp), fmtLat(hp), yes(tp <= hp))
			}
		}
	}
	if len(tt) == 0 {
		d.p("| TCP req/s >= 1.0x HAProxy tcp | turnout-tcp not measured: %s | - |", d.skipReason("turnout-tcp"))
	} else if x, _, ok := ratio(tt, ht, r.reps, "rps"); ok {
		d.p("| TCP req/s (c64) >= 1.0x HAProxy tcp | %s | %s |", fmtX(x), yes(x >= 1))
	}
	if d.reload != nil {
		fails := d.reloadFailures("turnout")
		if len(fails) == 0 {
			d.p("| 0 failed requests through %s weight changes under load | turnout not measured | - |", d.changesLabel())
		} else {
			d.p("| 0 failed requests through %s weight changes under load | %s (per repetition) | %s |",
				d.changesLabel(), joinF(fails, fmtInt), yes(sum(fails) == 0))
		}
	}
	if ns, allocs := goBenchResults(d.goBench, "BenchmarkDecide"); len(ns) > 0 && len(allocs) > 0 {
		m, _ := median(ns)
		d.p("| routing decision, 10-operand condition (`BenchmarkDecide`) <= 100 ns/op, 0 allocs/op | %.0f ns/op (%.0f-%.0f over %d runs), %.0f allocs/op | %s |",
			m, slices.Min(ns), slices.Max(ns), len(ns), slices.Max(allocs), yes(m <= 100 && slices.Max(allocs) == 0))
	}
	d.p("")
}

// goBenchResults returns the ns/op and allocs/op of every run of the named
// benchmark in `go test -bench -benchmem` output (any -N suffix).
func goBenchResults(out []byte, name string) (ns, allocs []float64) {
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || (f[0] != name && !strings.HasPrefix(f[0], name+"-")) {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				ns = append(ns, v)
			case "allocs/op":
				allocs = append(allocs, v)
			}
		}
	}
	return ns, allocs
}

func (d *doc) skipReason(c string) string {
	if why, ok := d.run.skipped[c]; ok && why != "" {
		return why
	}
	return "not in CONTENDERS"
}

func (d *doc) protoContenders(proto string) []string {
	var out []string
	for _, c := range d.run.names {
		switch {
		case c == "direct":
			out = append(out, c)
		case strings.HasSuffix(c, "-"+proto), proto == "http" && (c == "nginx" || c == "turnout-plugins"):
			out = append(out, c)
		}
	}
	return out
}

func (d *doc) throughput() {
	r := d.run
	for _, proto := range []string{"http", "tcp"} {
		names := d.protoContenders(proto)
		ref := "haproxy-" + proto
		title := "HTTP (layer 7)"
		if proto == "tcp" {
			title = "TCP (layer 4)"
		}
		d.p("## %s: 50/50 split, %s", title, d.repsLabel())
		d.p("")
		d.p("| contender | req/s c64 | x direct | x HAProxy | p50 c64 | p99 c64 | req/s c8 | p50 c8 | p99 c8 | proxy CPU µs/req | failed requests | split sample b1 %% | split over c64 run b1 %% |")
		d.p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		direct := r.cell("direct", "c64")
		direct8 := r.cell("direct", "c8")
		for _, c := range names {
			c64, c8 := r.cell(c, "c64"), r.cell(c, "c8")
			if len(c64) == 0 {
				d.p("| %s | skipped: %s | | | | | | | | | | | |", c, d.skipReason(c))
				continue
			}
			rps, ok := median(field(c64, r.reps, "rps"))
			xd, _, okd := ratio(c64, direct, r.reps, "rps")
			xh, _, okh := ratio(c64, r.cell(ref, "c64"), r.reps, "rps")
			p50, ok50 := median(field(c64, r.reps, "p50_us"))
			p99, ok99 := median(field(c64, r.reps, "p99_us"))
			rps8, ok8 := median(field(c8, r.reps, "rps"))
			p508, ok508 := median(field(c8, r.reps, "p50_us"))
			p998, ok998 := median(field(c8, r.reps, "p99_us"))
			_ = direct8
			cpu := "-"
			if c != "direct" {
				var xs []float64
				for _, rep := range r.reps {
					row, okr := c64[rep]
					if !okr {
						continue
					}
					t, ok1 := num(row["proxy_ticks"])
					n, ok2 := num(row["requests"])
					if ok1 && ok2 && n > 0 {
						xs = append(xs, t/r.clkTck*1e6/n)
					}
				}
				if m, okm := median(xs); okm {
					cpu = fmt.Sprintf("%.1f", m)
				}
			}
			var failed []float64
			for _, rep := range r.reps {
				f := 0.0
				for _, cell := range []map[string]map[string]string{c64, c8} {
					if row, okr := cell[rep]; okr {
						a, _ := num(row["socket_errors"])
						b, _ := num(row["non2xx"])
						f += a + b
					}
				}
				failed = append(failed, f)
			}
			sample, runSplit := "-", "-"
			if c != "direct" {
				var ss []string
				for _, rep := range r.reps {
					if row, okr := c64[rep]; okr {
						s := row["sample_b1_pct"]
						if e, _ := num(row["sample_errors"]); e > 0 {
							s += fmt.Sprintf(" (%s errors)", row["sample_errors"])
						}
						ss = append(ss, s)
					}
				}
				sample = strings.Join(ss, " / ")
				var pcts []float64
				for _, rep := range r.reps {
					if row, okr := c64[rep]; okr {
						b1, ok1 := num(row["b1"])
						b2, ok2 := num(row["b2"])
						if ok1 && ok2 && b1+b2 > 0 {
							pcts = append(pcts, 100*b1/(b1+b2))
						}
					}
				}
				runSplit = joinF(pcts, func(v float64) string { return fmt.Sprintf("%.1f", v) })
			}
			xhs := orDash(fmtX(xh), okh)
			if c == "direct" {
				xhs = orDash(fmtX(1/xh), okh && xh > 0)
				if x, _, okx := ratio(direct, r.cell(ref, "c64"), r.reps, "rps"); okx {
					xhs = fmtX(x)
				}
			}
			name := c
			if c == "direct" {
				name = "direct (wrk -> b1, the limit)"
			}
			d.p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
				name, orDash(fmtInt(rps), ok), orDash(fmtX(xd), okd), xhs,
				orDash(fmtLat(p50), ok50), orDash(fmtLat(p99), ok99),
				orDash(fmtInt(rps8), ok8), orDash(fmtLat(p508), ok508), orDash(fmtLat(p998), ok998),
				cpu, joinF(failed, fmtInt), sample, runSplit)
		}
		d.p("")
		if proto == "http" {
			d.p("x direct and x HAProxy: the median over repetitions of the contender's req/s divided by")
			d.p("direct's (or haproxy-http's) in the same repetition. p50/p99 from wrk `--latency`, median")
			d.p("over repetitions. Proxy CPU per request: utime+stime of the proxy's processes (nginx:")
			d.p("master and workers) from `/proc/PID/stat` before and after the c64 run, divided by the")
			d.p("requests of that run. Failed requests: wrk socket errors plus non-2xx responses in the")
			d.p("c64 and c8 runs, per repetition. Split sample: b1's share of %s requests over 4", orDefault(r.meta["SPLIT_N"], "2000"))
			d.p("keep-alive connections (`bench/bin/splitcount`), per repetition; split over the run: b1's")
			d.p("share of the requests the backends counted during the c64 run.")
			d.pluginsLine()
		} else {
			d.p("TCP proxies balance per connection: the split sample opens one connection per request")
			d.p("(`splitcount -newconn`); over the wrk run the share follows how wrk's 64 long-lived")
			d.p("connections were spread, so it can be far from 50 %% without anything being wrong.")
		}
		d.p("")
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (d *doc) cores() {
	r := d.run
	dur := durSeconds(r.duration)
	if dur <= 0 {
		return
	}
	d.p("## How the %s cores are shared at c64 (%s)", orDefault(machineValue(r.machine, "nproc"), "N"), d.repsLabel())
	d.p("")
	d.p("| contender | req/s | wrk cores | backend cores | proxy cores | total | proxy µs/req | backends µs/req |")
	d.p("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range r.names {
		cell := r.cell(c, "c64")
		if len(cell) == 0 {
			continue
		}
		var wrk, be, px, beReq []float64
		for _, rep := range r.reps {
			row, ok := cell[rep]
			if !ok {
				continue
			}
			if v, ok := num(row["wrk_cpu_s"]); ok {
				wrk = append(wrk, v/dur)
			}
			n, okn := num(row["requests"])
			if v, ok := num(row["backend_ticks"]); ok {
				be = append(be, v/r.clkTck/dur)
				if okn && n > 0 {
					beReq = append(beReq, v/r.clkTck*1e6/n)
				}
			}
			if v, ok := num(row["proxy_ticks"]); ok {
				px = append(px, v/r.clkTck/dur)
			}
		}
		rps, _ := median(field(cell, r.reps, "rps"))
		mw, okw := median(wrk)
		mb, okb := median(be)
		mp, okp := median(px)
		mbr, okbr := median(beReq)
		total := mw + mb + mp
		pxReq := "-"
		if okp && rps > 0 {
			pxReq = fmt.Sprintf("%.1f", mp*1e6/rps)
		}
		f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
		d.p("| %s | %s | %s | %s | %s | %s | %s | %s |", c, fmtInt(rps), orDash(f2(mw), okw), orDash(f2(mb), okb),
			orDash(f2(mp), okp), f2(total), pxReq, orDash(fmt.Sprintf("%.1f", mbr), okbr))
	}
	d.p("")
	d.p("Cores = CPU seconds / %s of wall time (wrk: bash `time`; backends and proxy: `/proc/PID/stat`).", r.duration)
	d.p("What is missing from the machine's total is kernel work not charged to these processes, and idle.")
	d.p("")
}

func machineValue(kv [][2]string, key string) string {
	for _, p := range kv {
		if p[0] == key {
			return p[1]
		}
	}
	return ""
}

func (d *doc) perRep() {
	r := d.run
	d.p("## Every repetition (req/s at c64 / c8)")
	d.p("")
	d.p("The machine is shared and noisy; these are the numbers behind the medians above.")
	d.p("")
	hdr := "| contender |"
	sep := "|---|"
	for _, rep := range r.reps {
		hdr += fmt.Sprintf(" rep %s c64 | rep %s c8 |", rep, rep)
		sep += "---:|---:|"
	}
	d.p("%s", hdr)
	d.p("%s", sep)
	for _, c := range r.names {
		c64, c8 := r.cell(c, "c64"), r.cell(c, "c8")
		if len(c64) == 0 && len(c8) == 0 {
			continue
		}
		line := "| " + c + " |"
		for _, rep := range r.reps {
			for _, cell := range []map[string]map[string]string{c64, c8} {
				v := "-"
				if row, ok := cell[rep]; ok {
					if x, ok := num(row["rps"]); ok {
						v = fmtInt(x)
					}
				}
				line += " " + v + " |"
			}
		}
		d.p("%s", line)
	}
	d.p("")
}

// ---------------------------------------------------------------- reload

var methodHow = map[string]string{
	"none":    "HAProxy, no change (baseline)",
	"sf":      "HAProxy: new config, new process `haproxy -db -f CFG -sf OLDPID`",
	"api":     "HAProxy runtime API: `set server be/b1 weight N` (and b2) via `socat` to the stats socket, no reload",
	"nginx":   "nginx: new config + `kill -HUP master` (weight 0 written as `down`)",
	"turnout": "Turnout: gateway file rewritten atomically (temp + rename), then `kill -HUP`; no new process",
}

func (d *doc) changesLabel() string {
	return orDefault(d.reload.meta["CHANGES"], "20")
}

func (d *doc) reloadCell(method string) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, row := range d.reload.rows {
		if row["method"] == method {
			m[row["rep"]] = row
		}
	}
	return m
}

func (d *doc) reloadFailures(method string) []float64 {
	cell := d.reloadCell(method)
	var out []float64
	for _, rep := range d.reload.reps {
		row, ok := cell[rep]
		if !ok {
			continue
		}
		a, _ := num(row["socket_errors"])
		b, _ := num(row["non2xx"])
		out = append(out, a+b)
	}
	return out
}

// phaseShare: b1's share of all requests in the phases with the given weights.
func (d *doc) phaseShare(method, wa, wb string) (float64, bool) {
	var b1, tot float64
	for _, ph := range d.reload.phases {
		if ph["method"] != method || ph["weight_a"] != wa || ph["weight_b"] != wb {
			continue
		}
		a, ok1 := num(ph["b1"])
		b, ok2 := num(ph["b2"])
		if ok1 && ok2 {
			b1 += a
			tot += a + b
		}
	}
	if tot == 0 {
		return 0, false
	}
	return 100 * b1 / tot, true
}

func (d *doc) reloads() {
	rl := d.reload
	n := len(rl.reps)
	label := fmt.Sprintf("median of %d repetitions", n)
	if n == 1 {
		label = "1 repetition"
	}
	d.p("## Weight changes under load (%s)", label)
	d.p("")
	d.p("`wrk -t1 -c64 -d%s --latency` against each method's listener (port %s); after %s s, every %s s",
		orDefault(rl.meta["LOAD_DURATION"], "23s"), orDefault(rl.meta["PORT"], "19201"),
		orDefault(rl.meta["INTERVAL"], "1"), orDefault(rl.meta["INTERVAL"], "1"))
	d.p("one weight change, %s changes: 50/50 -> 90/10 -> 0/100 -> 50/50 -> ... . The backends'", d.changesLabel())
	d.p("counters are read right before and right after every change command, which gives each")
	d.p("phase's split (a phase runs from the end of one change command to the start of the next;")
	d.p("for Turnout the command ends when its `turnout_config_reloads_total` has moved). Failed")
	d.p("requests (wrk socket errors + non-2xx) are listed per repetition: every one counts.")
	d.p("")
	d.p("| method | how | req/s | p99 | failed requests per repetition | socket errors c/r/w/t (all reps) | changes applied | change command ms (median) | b1 %% in 90/10 phases | b1 %% in 0/100 phases | b1 %% in 50/50 phases |")
	d.p("|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|")
	for _, m := range rl.methods {
		cell := d.reloadCell(m)
		if len(cell) == 0 {
			why := rl.meta["SKIPPED_"+m]
			d.p("| %s | %s | skipped: %s | | | | | | | | |", m, methodHow[m], orDefault(why, "no result"))
			continue
		}
		rps, okr := median(field(cell, rl.reps, "rps"))
		p99, okp := median(field(cell, rl.reps, "p99_us"))
		fails := d.reloadFailures(m)
		var kinds [4]float64
		applied, wanted := 0.0, 0.0
		for _, rep := range rl.reps {
			row, ok := cell[rep]
			if !ok {
				continue
			}
			parts := strings.Split(row["errors_cwrt"], "/")
			for i := 0; i < 4 && i < len(parts); i++ {
				v, _ := num(parts[i])
				kinds[i] += v
			}
			a, _ := num(row["changes"])
			f, _ := num(row["apply_failures"])
			applied += a - f
			wanted += a
		}
		appliedS := fmt.Sprintf("%s / %s", fmtInt(applied), fmtInt(wanted))
		if m == "none" {
			appliedS = "-"
		}
		share := func(wa, wb string) string {
			if m == "none" && wa != "50" {
				return "-"
			}
			v, ok := d.phaseShare(m, wa, wb)
			return orDash(fmt.Sprintf("%.1f", v), ok)
		}
		failS := joinF(fails, fmtInt)
		if m == "turnout" && sum(fails) == 0 {
			failS = "**" + failS + "**"
		}
		var applyMs []float64
		for _, ph := range rl.phases {
			if ph["method"] == m && ph["phase"] != "0" {
				if v, ok := num(ph["apply_ms"]); ok {
					applyMs = append(applyMs, v)
				}
			}
		}
		applyS := "-"
		if v, ok := median(applyMs); ok && m != "none" {
			applyS = fmt.Sprintf("%.0f", v)
		}
		d.p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", m, methodHow[m],
			orDash(fmtInt(rps), okr), orDash(fmtLat(p99), okp), failS,
			fmt.Sprintf("%.0f/%.0f/%.0f/%.0f", kinds[0], kinds[1], kinds[2], kinds[3]),
			appliedS, applyS, share("90", "10"), share("0", "100"), share("50", "50"))
	}
	d.p("")
	d.p("A wrk \"read\" socket error is a request written on a keep-alive connection that the proxy")
	d.p("closed without answering (on reload the old process closes idle client connections, racing")
	d.p("with requests on the way): a real failed request. Old HAProxy/nginx processes keep serving")
	d.p("their connections for a while, which is why a 0/100 phase can still send some traffic to b1;")
	d.p("the runtime API and Turnout change the weights in place. \"changes applied\" counts the")
	d.p("changes whose command succeeded (signal sent, API answer empty, Turnout's reload counter")
	d.p("moved with no refused reload), over all repetitions. \"change command ms\": how long the")
	d.p("change command took, as seen by the script (includes writing the config and, for Turnout,")
	d.p("polling /metrics until the reload shows).")
	d.p("")
}

// ---------------------------------------------------------------- machine and method

func (d *doc) machine() {
	d.p("## Machine")
	d.p("")
	var kv [][2]string
	switch {
	case d.run != nil:
		kv = d.run.machine
	case d.reload != nil:
		kv = d.reload.machine
	default:
		kv = d.upload.machine
	}
	for _, p := range kv {
		d.p("- %s: %s", p[0], p[1])
	}
	if d.run != nil && d.run.meta["TURNOUT_SHA256"] != "" {
		d.p("- bin/turnout (sha256 prefix) in the throughput run: %s", d.run.meta["TURNOUT_SHA256"])
	}
	if d.reload != nil && d.reload.meta["TURNOUT_SHA256"] != "" {
		d.p("- bin/turnout (sha256 prefix) in the reload scenario: %s", d.reload.meta["TURNOUT_SHA256"])
	}
	if d.run != nil {
		d.p("- throughput run: %s to %s; load average (1/5/15 min) before %s, after %s",
			d.run.meta["STARTED"], d.run.meta["FINISHED"], d.run.meta["LOADAVG_START"], d.run.meta["LOADAVG_END"])
	}
	if d.reload != nil {
		d.p("- reload scenario: %s to %s; load average before %s, after %s",
			d.reload.meta["STARTED"], d.reload.meta["FINISHED"], d.reload.meta["LOADAVG_START"], d.reload.meta["LOADAVG_END"])
	}
	if d.upload != nil {
		d.p("- uploads: %s to %s; load average before %s, after %s",
			d.upload.meta["STARTED"], d.upload.meta["FINISHED"], d.upload.meta["LOADAVG_START"], d.upload.meta["LOADAVG_END"])
	}
	d.p("- the machine is shared with other work; the load average before a run shows whether")
	d.p("  something else was running (the benchmark alone keeps it near 2-3)")
	d.p("")
}

func (d *doc) method() {
	d.p("## How it was measured")
	d.p("")
	d.p("```sh")
	d.p("make bench        # = bash bench/run.sh && bash bench/reload.sh && bash bench/upload.sh")
	if d.run != nil {
		m := d.run.meta
		d.p("REPS=%s DURATION=%s WARMUP=%s PINNED=%s CONTENDERS=\"%s\" bash bench/run.sh",
			m["REPS"], m["DURATION"], m["WARMUP"], m["PINNED"], m["CONTENDERS"])
	}
	if d.reload != nil {
		m := d.reload.meta
		d.p("REPS=%s METHODS=\"%s\" CHANGES=%s bash bench/reload.sh", m["REPS"], m["METHODS"], m["CHANGES"])
	}
	d.p("```")
	d.p("")
	if d.run != nil {
		m := d.run.meta
		d.p("Per repetition and contender, in this order on odd repetitions and in reverse on even ones: %s.", m["CONTENDERS"])
		d.p("For each: start it, poll until it")
		d.p("answers (deadline, no fixed sleeps), warm up, split sample, then")
		d.p("")
		d.p("```sh")
		d.p("wrk -t1 -c64 -d%s http://127.0.0.1:PORT/                  # warm-up", m["WARMUP"])
		d.p("bench/bin/splitcount -url http://127.0.0.1:PORT/ -n %s -c 4 [-newconn]", orDefault(m["SPLIT_N"], "2000"))
		d.p("wrk -t1 -c64 -d%s --latency http://127.0.0.1:PORT/        # throughput", m["DURATION"])
		d.p("wrk -t1 -c8  -d%s --latency http://127.0.0.1:PORT/        # latency", m["DURATION"])
		d.p("```")
		d.p("")
		d.p("and stop it. Backends: two `bench/bin/backend` (Go net/http, %s-byte body, keep-alive) on", "64")
		port := func(key, def string) string { return orDefault(m[key], def) }
		d.p("127.0.0.1:%s (b1) and :%s (b2); direct = wrk straight to b1. Ports: haproxy-http",
			port("PORT_BACKEND_A", "19001"), port("PORT_BACKEND_B", "19002"))
		d.p("%s, nginx %s, haproxy-tcp %s, turnout-http %s, turnout-tcp %s. One wrk",
			port("PORT_HAPROXY_HTTP", "19101"), port("PORT_NGINX", "19102"), port("PORT_HAPROXY_TCP", "19104"),
			port("PORT_TURNOUT_HTTP", "19109"), port("PORT_TURNOUT_TCP", "19110"))
		d.p("thread, because a second would take a core from the proxy and the backends.")
		if m["PINNED"] == "1" {
			d.p("Pinned: wrk, splitcount and the backends on CPU 0 (`taskset -c 0`), the contender on")
			d.p("CPU 1, one proxy thread.")
		} else {
			d.p("Unpinned: GOMAXPROCS unset (Go uses both CPUs), HAProxy `nbthread %s`, nginx", m["PROXY_THREADS"])
			d.p("`worker_processes %s`.", m["PROXY_THREADS"])
		}
		d.p("wrk is closed-loop: even c8 runs at saturation and p99 is optimistic (coordinated omission).")
		d.p("Turnout: `%s`.", orDefault(d.run.turnoutCmd, "bin/turnout serve -f gateways.yaml --admin 127.0.0.1:"+orDefault(m["PORT_TURNOUT_ADMIN"], "19180")))
		d.p("")
		for _, c := range []struct{ key, title, lang string }{
			{"haproxy-http", "HAProxy (http; tcp is the same with `mode tcp` and without `option http-keep-alive`)", ""},
			{"nginx", "nginx", "nginx"},
			{"turnout", "Turnout gateway file", "yaml"},
		} {
			if s, ok := d.run.configs[c.key]; ok {
				d.p("%s:", c.title)
				d.p("")
				d.p("```%s", c.lang)
				d.p("%s", s)
				d.p("```")
				d.p("")
			}
		}
		d.p("Raw output of this run: `%s` (not in git).", relOut(d.run.dir))
	}
	if d.reload != nil {
		d.p("Raw output of the reload scenario: `%s` (not in git).", relOut(d.reload.dir))
	}
	d.p("")
}

func relOut(dir string) string {
	if i := strings.Index(dir, "bench/out/"); i >= 0 {
		return dir[i:]
	}
	return dir
}

// realDir makes dir absolute with symlinks resolved (bench/out/last-run -> its run).
func realDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir
}

// pluginsLine compares turnout-plugins (both routes resolved by a backend
// plugin process) with turnout-http (static routes) in each repetition:
// plugins are off the request path, so the ratio should be 1 within noise.
func (d *doc) pluginsLine() {
	r := d.run
	var ratios []float64
	for _, load := range []string{"c64", "c8"} {
		p, h := r.cell("turnout-plugins", load), r.cell("turnout-http", load)
		for rep := range p {
			pv, err1 := strconv.ParseFloat(p[rep]["rps"], 64)
			hv, err2 := strconv.ParseFloat(h[rep]["rps"], 64)
			if err1 == nil && err2 == nil && hv > 0 {
				ratios = append(ratios, pv/hv)
			}
		}
	}
	if len(ratios) == 0 {
		return
	}
	sort.Float64s(ratios)
	d.p("")
	d.p("turnout-plugins is turnout-http's gateway with both routes resolved by a backend plugin")
	d.p("process (`file:` targets, docs/examples/backend-file) instead of static addresses: plugins")
	d.p("are off the request path. Its req/s over turnout-http's in the same repetition, c64 and c8:")
	d.p("median %.2fx (from %.2fx to %.2fx).", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
}
