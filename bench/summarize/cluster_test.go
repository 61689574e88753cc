package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The cluster section is built from bench/cluster.sh's raw files, and a
// second run replaces the first's section, keeping the rest of the page.
func TestClusterSection(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"convergence.txt": "agents=3\nchanges=200\nsamples=400\nrace=false\nfollowers_p50_ms=10.49\nfollowers_p99_ms=1033.78\nfollowers_max_ms=1035.97\n",
		"store-bench.txt": "BenchmarkStoreWrite/bolt/writers=1-2   638   3000000 ns/op   300.0 writes/s\n" +
			"BenchmarkStoreWrite/bolt/writers=1-2   366   3200000 ns/op   340.0 writes/s\n" +
			"BenchmarkStoreWrite/zookeeper/writers=3-2   241   5000000 ns/op   200.0 writes/s\n",
		"meta.env": "STARTED=2026-12-07 16:14:15 UTC\nFINISHED=2026-12-07 16:15:21 UTC\nNOTE=loaded\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := loadCluster(dir)
	if err != nil {
		t.Fatal(err)
	}
	sec := c.section()
	for _, want := range []string{
		"| B and C, from A's 2xx (400 samples) | 10.49 ms | 1033.78 ms | 1035.97 ms |",
		"p99 under 1 s on B and C: **no** (1033.78 ms)",
		"| bolt | 1 | 320 | 3.10 |",       // medians of the two runs
		"| zookeeper | 3 | 200 | 15.00 |", // 5 ms per op over 3 writers
		"loaded",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("section lacks %q:\n%s", want, sec)
		}
	}
	page := "# Performance\n\n## Uploads\n\nu\n\n## Machine\n\nm\n"
	once := spliceSection(page, clusterHeading, sec)
	twice := spliceSection(once, clusterHeading, sec)
	if once != twice || strings.Count(twice, clusterHeading) != 1 {
		t.Errorf("a second splice changed the page or doubled the section:\n%s", twice)
	}
	if !strings.Contains(once, "u\n\n"+clusterHeading) || !strings.HasSuffix(once, "## Machine\n\nm\n") {
		t.Errorf("the section is not between Uploads and Machine:\n%s", once)
	}
}
