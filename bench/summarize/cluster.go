package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// clusterHeading starts the section bench/cluster.sh writes.
const clusterHeading = "## Cluster mode: change to traffic across agents, store writes"

// clusterData is the output of bench/cluster.sh: convergence.txt (KEY=VALUE
// lines of TestClusterConvergenceBench), store-bench.txt (go test -bench
// StoreWrite) and meta.env.
type clusterData struct {
	dir   string
	conv  map[string]string
	store []byte
	meta  map[string]string
}

func loadCluster(dir string) (*clusterData, error) {
	c := &clusterData{dir: dir}
	_, c.conv = readKV(filepath.Join(dir, "convergence.txt"), "=")
	_, c.meta = readKV(filepath.Join(dir, "meta.env"), "=")
	c.store, _ = os.ReadFile(filepath.Join(dir, "store-bench.txt"))
	if len(c.conv) == 0 && len(c.store) == 0 {
		return nil, fmt.Errorf("%s: neither convergence.txt nor store-bench.txt", dir)
	}
	return c, nil
}

// storeWriteLine is one result of BenchmarkStoreWrite.
var storeWriteLine = regexp.MustCompile(`^BenchmarkStoreWrite/(\w+)/writers=(\d+)(?:-\d+)?\s`)

func (c *clusterData) section() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p(clusterHeading)
	p("")
	p("Written by `make bench-cluster` (`bench/cluster.sh`), apart from the rest of this page: another")
	p("day, another load. Three `turnout serve --store zk://...` agents (the real binary) on one")
	p("standalone ZooKeeper (Debian's package, as `internal/zktest` runs it: `forceSync=no`), all on")
	p("127.0.0.1 to 127.0.0.3.")
	if v := c.meta["STARTED"]; v != "" {
		p("Run: %s to %s; load average (1/5/15 min) before %s, after %s; %s CPUs; git %s.",
			v, orDefault(c.meta["FINISHED"], "?"), orDefault(c.meta["LOADAVG_START"], "?"), orDefault(c.meta["LOADAVG_END"], "?"),
			orDefault(c.meta["NPROC"], "?"), orDefault(c.meta["GIT"], "?"))
	}
	if v := c.meta["NOTE"]; v != "" {
		p("%s", v)
	}
	p("")
	if len(c.conv) > 0 {
		p("**Change to traffic** (`TestClusterConvergenceBench`): %s changes through agent A's API, each",
			orDefault(c.conv["changes"], "?"))
		p("flipping a gateway between two backends that answer with different names. For each change, the")
		p("time from A's 2xx answer to the first request answered by the new backend on B and on C, each")
		p("polled in a tight loop on a keep-alive connection from that answer on (an agent that switched")
		p("before A answered counts as the time of one request). The path: A's commit (one ZooKeeper")
		p("`multi`), the watch firing on B and C, their read of the whole state, the engine's table build")
		p("and atomic swap. Goal (issue 15): p99 under 1 s.")
		p("")
		p("| delay | p50 | p99 | max |")
		p("|---|---:|---:|---:|")
		for _, r := range []struct{ key, label string }{
			{"followers", "B and C, from A's 2xx (" + orDefault(c.conv["samples"], "?") + " samples)"},
			{"b", "B alone"},
			{"c", "C alone"},
			{"local", "A itself (the agent that took the change)"},
			{"accept", "A's API: PUT sent to 2xx"},
		} {
			p("| %s | %s ms | %s ms | %s ms |", r.label, orDefault(c.conv[r.key+"_p50_ms"], "-"),
				orDefault(c.conv[r.key+"_p99_ms"], "-"), orDefault(c.conv[r.key+"_max_ms"], "-"))
		}
		p("")
		if v, ok := num(c.conv["followers_p99_ms"]); ok {
			met := "yes"
			if v >= 1000 {
				met = "**no**"
			}
			p("p99 under 1 s on B and C: %s (%s ms).", met, c.conv["followers_p99_ms"])
		}
		if c.conv["race"] == "true" {
			p("Built with `-race`: these delays include the race detector's cost.")
		}
		p("")
	}
	if len(c.store) > 0 {
		c.storeTable(p)
	}
	p("Reproduce (`make bench-cluster` runs both and rewrites this section):")
	p("")
	p("<!-- not run: a measurement of a minute or more, with ZooKeeper -->")
	p("```sh")
	p("TURNOUT_BENCH_CHANGES=200 go test -run '^TestClusterConvergenceBench$' -count 1 -v ./cmd/turnout/")
	p("go test -run '^$' -bench StoreWrite -benchtime 2s -count 3 ./core/store/")
	p("```")
	p("")
	p("Raw output: `%s` (not in git).", relOut(c.dir))
	p("")
	return b.String()
}

func (c *clusterData) storeTable(p func(string, ...any)) {
	type key struct {
		store   string
		writers int
	}
	vals := map[key]map[string][]float64{}
	for _, line := range strings.Split(string(c.store), "\n") {
		m := storeWriteLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		w, _ := strconv.Atoi(m[2])
		k := key{m[1], w}
		if vals[k] == nil {
			vals[k] = map[string][]float64{}
		}
		f := strings.Fields(line)
		for i := 1; i+1 < len(f); i++ {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				vals[k][f[i+1]] = append(vals[k][f[i+1]], v)
			}
		}
	}
	if len(vals) == 0 {
		return
	}
	keys := make([]key, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].store != keys[j].store {
			return keys[i].store < keys[j].store
		}
		return keys[i].writers < keys[j].writers
	})
	p("**Store writes** (`BenchmarkStoreWrite`): one write is one `Apply` of one gateway of about 300")
	p("bytes, what an API PUT commits. bolt: the embedded store, an fsync per commit. zookeeper: one")
	p("`multi` per commit, conditional on the store version. writers=3: three writers at once, each")
	p("its own gateway (bolt: three goroutines of one process; ZooKeeper: three sessions, as three")
	p("agents, which retry when another commits first). Median of the runs. Not like for like on")
	p("durability: bolt fsyncs each commit to this machine's disk, while this ZooKeeper does not fsync")
	p("(`forceSync=no`, as the tests run it); a production ensemble fsyncs its log on a quorum of")
	p("servers over the network, so expect fewer writes/s there. Either is far above what operators")
	p("and policies write (a few changes a minute).")
	p("")
	p("| store | writers | writes/s | ms per write (each writer) |")
	p("|---|---:|---:|---:|")
	for _, k := range keys {
		ws, _ := median(vals[k]["writes/s"])
		ns, _ := median(vals[k]["ns/op"])
		p("| %s | %d | %s | %.2f |", k.store, k.writers, fmtInt(ws), ns*float64(k.writers)/1e6)
	}
	p("")
}
