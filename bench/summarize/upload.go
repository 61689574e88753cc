package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// flatKB: how much a proxy's peak RSS may exceed its RSS after start for its
// memory to count as flat during an upload (a few buffers, nothing that
// grows with the body).
const flatKB = 16000

// uploadData is the output of bench/upload.sh: upload.tsv, one row per
// repetition, contender and mode (length, chunked).
type uploadData struct {
	dir     string
	rows    []map[string]string
	meta    map[string]string
	machine [][2]string
	skipped map[string]string
	clkTck  float64
	reps    []string
	names   []string
	modes   []string
	nginx   string // the location block's extra directives, as run
}

func loadUpload(dir string) (*uploadData, error) {
	dir = realDir(dir)
	t, err := readTSV(filepath.Join(dir, "upload.tsv"))
	if err != nil {
		return nil, err
	}
	u := &uploadData{dir: dir, rows: t.rows, skipped: map[string]string{}}
	_, u.meta = readKV(filepath.Join(dir, "meta.env"), "=")
	u.machine, _ = readKV(filepath.Join(dir, "machine.txt"), ":")
	u.clkTck = 100
	if v, ok := num(u.meta["CLK_TCK"]); ok && v > 0 {
		u.clkTck = v
	}
	if s, err := readTSV(filepath.Join(dir, "skipped.tsv")); err == nil {
		for _, row := range s.rows {
			u.skipped[row["contender"]] = row["reason"]
		}
	}
	seenRep, seenName, seenMode := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range strings.Fields(u.meta["CONTENDERS"]) {
		if !seenName[c] {
			seenName[c] = true
			u.names = append(u.names, c)
		}
	}
	for _, m := range strings.Fields(u.meta["MODES"]) {
		if !seenMode[m] {
			seenMode[m] = true
			u.modes = append(u.modes, m)
		}
	}
	for _, row := range t.rows {
		if !seenRep[row["rep"]] {
			seenRep[row["rep"]] = true
			u.reps = append(u.reps, row["rep"])
		}
		if !seenName[row["contender"]] {
			seenName[row["contender"]] = true
			u.names = append(u.names, row["contender"])
		}
		if !seenMode[row["mode"]] {
			seenMode[row["mode"]] = true
			u.modes = append(u.modes, row["mode"])
		}
	}
	conf := readFile(filepath.Join(dir, "rep1/nginx/nginx/nginx.conf"))
	var extra []string
	for _, line := range strings.Split(conf, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "proxy_request_buffering") || strings.HasPrefix(l, "client_max_body_size") {
			extra = append(extra, l)
		}
	}
	u.nginx = strings.Join(extra, " ")
	return u, nil
}

// cell: the rows of one contender and mode, keyed by repetition; failed
// uploads keep their row, with ok=0.
func (u *uploadData) cell(contender, mode string) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, row := range u.rows {
		if row["contender"] == contender && row["mode"] == mode {
			m[row["rep"]] = row
		}
	}
	return m
}

// okCell: the successful uploads of a cell only.
func (u *uploadData) okCell(contender, mode string) map[string]map[string]string {
	m := u.cell(contender, mode)
	for rep, row := range m {
		if row["ok"] != "1" {
			delete(m, rep)
		}
	}
	return m
}

var modeTitle = map[string]string{"length": "Content-Length", "chunked": "chunked"}

func orMode(m string) string {
	if t, ok := modeTitle[m]; ok {
		return t
	}
	return m
}

func (u *uploadData) sizeLabel() string {
	n, ok := num(u.meta["UPLOAD_SIZE"])
	switch {
	case !ok:
		return "?"
	case n >= 1<<30 && int64(n)%(1<<30) == 0:
		return fmt.Sprintf("%.0f GiB", n/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", n/(1<<20))
	default:
		return fmtInt(n) + " bytes"
	}
}

// turnoutNames: the Turnout contenders measured (baselines are shown, not targets).
func (u *uploadData) turnoutNames() []string {
	var out []string
	for _, c := range u.names {
		if strings.HasPrefix(c, "turnout-") {
			out = append(out, c)
		}
	}
	return out
}

func (d *doc) uploads() {
	u := d.upload
	label := fmt.Sprintf("median of %d repetitions", len(u.reps))
	if len(u.reps) == 1 {
		label = "1 repetition, no median"
	}
	d.p("## Uploads: one %s request body, %s", u.sizeLabel(), label)
	d.p("")
	d.p("One POST of %s bytes per contender and framing, on a new connection, streamed by", orDefault(u.meta["UPLOAD_SIZE"], "?"))
	d.p("`bench/bin/upload` (%s-byte writes; chunked: one chunk per write) to `bench/bin/backend`,", orDefault(u.meta["UPLOAD_WRITE"], "65536"))
	d.p("which reads and discards it and answers the byte count. MiB/s: body bytes over the time from")
	d.p("the first byte sent to the last byte of the answer. Ratios to HAProxy are taken within each")
	d.p("repetition, then the median.")
	d.p("")
	d.uploadTargets()
	hdr := "| contender |"
	sep := "|---|"
	for _, m := range u.modes {
		hdr += fmt.Sprintf(" %s MiB/s | x HAProxy |", orMode(m))
		sep += "---:|---:|"
	}
	for _, m := range u.modes {
		hdr += fmt.Sprintf(" proxy CPU s/GiB %s |", orMode(m))
		sep += "---:|"
	}
	for _, m := range u.modes {
		hdr += fmt.Sprintf(" proxy reads / writes per MiB %s |", orMode(m))
		sep += "---:|"
	}
	hdr += " proxy RSS after start | proxy peak RSS (VmHWM) | failed uploads |"
	sep += "---:|---:|---:|"
	d.p("%s", hdr)
	d.p("%s", sep)
	for _, c := range u.names {
		if len(u.cellAny(c)) == 0 {
			d.p("| %s | skipped: %s |", c, orDefault(u.skipped[c], "no result"))
			continue
		}
		line := "| " + c + " |"
		for _, m := range u.modes {
			cell := u.okCell(c, m)
			v, ok := median(field(cell, u.reps, "mib_s"))
			x, _, okx := ratio(cell, u.okCell("haproxy-http", m), u.reps, "mib_s")
			line += fmt.Sprintf(" %s | %s |", orDash(fmt.Sprintf("%.0f", v), ok), orDash(fmtX(x), okx))
		}
		for _, m := range u.modes {
			var xs []float64
			for _, row := range u.okCell(c, m) {
				t, ok1 := num(row["proxy_ticks"])
				b, ok2 := num(row["bytes"])
				if ok1 && ok2 && b > 0 {
					xs = append(xs, t/u.clkTck/(b/(1<<30)))
				}
			}
			v, ok := median(xs)
			line += " " + orDash(fmt.Sprintf("%.2f", v), ok) + " |"
		}
		for _, m := range u.modes {
			var rs, ws []float64
			for _, row := range u.okCell(c, m) {
				r, ok1 := num(row["proxy_reads"])
				w, ok2 := num(row["proxy_writes"])
				b, ok3 := num(row["bytes"])
				if ok1 && ok2 && ok3 && b > 0 {
					rs = append(rs, r/(b/(1<<20)))
					ws = append(ws, w/(b/(1<<20)))
				}
			}
			r, ok1 := median(rs)
			w, ok2 := median(ws)
			line += " " + orDash(fmt.Sprintf("%.1f / %.1f", r, w), ok1 && ok2 && r+w >= 0.5) + " |"
		}
		rss0, ok0 := median(u.perRep(c, "rss_start_kb"))
		peak, okp := median(u.perRep(c, "rss_peak_kb"))
		mb := func(kb float64) string { return fmt.Sprintf("%.1f MB", kb/1000) }
		failed := 0
		for _, m := range u.modes {
			for _, row := range u.cell(c, m) {
				if row["ok"] != "1" {
					failed++
				}
			}
		}
		line += fmt.Sprintf(" %s | %s | %d |", orDash(mb(rss0), ok0), orDash(mb(peak), okp), failed)
		d.p("%s", line)
	}
	d.p("")
	d.p("Proxy CPU: utime+stime of the proxy's processes (`/proc/PID/stat`) over the upload, per GiB")
	d.p("of body. Reads / writes: the proxy's read(2)/readv(2) and write(2)/writev(2) calls (`syscr`, `syscw`")
	d.p("of `/proc/PID/io`, both of its connections together) per MiB of body; the kernel does not count")
	d.p("recv(2)/send(2) there, which is all HAProxy uses (shown as -), and nginx's reads. RSS: `VmRSS` right after the proxy answered its first request, and `VmHWM` (the")
	d.p("peak) after both uploads and a 16 MiB warm-up of each kind, summed over nginx's master and")
	d.p("workers; median over repetitions, each repetition starts a new proxy process. The client and")
	d.p("the origin run on the same %s cores as the proxy.", orDefault(machineValue(u.machine, "nproc"), "N"))
	d.p("")
	d.p("Every repetition (MiB/s):")
	d.p("")
	hdr, sep = "| contender |", "|---|"
	for _, rep := range u.reps {
		for _, m := range u.modes {
			hdr += fmt.Sprintf(" rep %s %s |", rep, orMode(m))
			sep += "---:|"
		}
	}
	d.p("%s", hdr)
	d.p("%s", sep)
	for _, c := range u.names {
		if len(u.cellAny(c)) == 0 {
			continue
		}
		line := "| " + c + " |"
		for _, rep := range u.reps {
			for _, m := range u.modes {
				v := "-"
				if row, ok := u.cell(c, m)[rep]; ok {
					if row["ok"] != "1" {
						v = "failed"
					} else if x, ok := num(row["mib_s"]); ok {
						v = fmt.Sprintf("%.0f", x)
					}
				}
				line += " " + v + " |"
			}
		}
		d.p("%s", line)
	}
	d.p("")
	d.uploadMethod()
}

// cellAny: every row of a contender.
func (u *uploadData) cellAny(c string) []map[string]string {
	var out []map[string]string
	for _, row := range u.rows {
		if row["contender"] == c {
			out = append(out, row)
		}
	}
	return out
}

// perRep: a per-process column (the same on every mode's row) per repetition.
func (u *uploadData) perRep(c, col string) []float64 {
	var xs []float64
	for _, rep := range u.reps {
		for _, row := range u.cellAny(c) {
			if row["rep"] == rep {
				if v, ok := num(row[col]); ok {
					xs = append(xs, v)
				}
				break
			}
		}
	}
	return xs
}

func (d *doc) uploadTargets() {
	u := d.upload
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	tn := u.turnoutNames()
	if len(tn) == 0 {
		return
	}
	d.p("| target (issue 24 item 8) | measured | met |")
	d.p("|---|---|---|")
	for _, m := range u.modes {
		var parts []string
		met := true
		for _, c := range tn {
			x, _, ok := ratio(u.okCell(c, m), u.okCell("haproxy-http", m), u.reps, "mib_s")
			if !ok {
				parts = append(parts, c+" -")
				met = false
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %s", c, fmtX(x)))
			met = met && x >= 1
		}
		d.p("| %s upload MiB/s >= HAProxy's | %s | %s |", orMode(m), strings.Join(parts, ", "), yes(met))
	}
	var parts []string
	met := true
	for _, c := range tn {
		var growth []float64
		start, peak := u.perRep(c, "rss_start_kb"), u.perRep(c, "rss_peak_kb")
		for i := range min(len(start), len(peak)) {
			growth = append(growth, peak[i]-start[i])
		}
		g, ok := median(growth)
		p, _ := median(peak)
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s +%.1f MB (peak %.1f MB)", c, g/1000, p/1000))
		met = met && slices.Max(growth) <= flatKB
	}
	if len(parts) > 0 {
		d.p("| memory flat: the proxy's peak RSS at most %.0f MB over its RSS after start, whatever the body size | %s | %s |", float64(flatKB)/1000, strings.Join(parts, ", "), yes(met))
	}
	d.p("")
}

func (d *doc) uploadMethod() {
	u := d.upload
	m := u.meta
	d.p("Reproduce (this run: %s to %s, commit %s, bin/turnout sha256 prefix %s, load average before %s):",
		m["STARTED"], m["FINISHED"], orDefault(machineValue(u.machine, "git"), "?"), orDefault(m["TURNOUT_SHA256"], "-"), m["LOADAVG_START"])
	d.p("")
	d.p("```sh")
	base := fmt.Sprintf("REPS=%s UPLOAD_SIZE=%s UPLOAD_WRITE=%s MODES=\"%s\" CONTENDERS=\"%s\"",
		m["REPS"], m["UPLOAD_SIZE"], m["UPLOAD_WRITE"], m["MODES"], m["CONTENDERS"])
	if m["TURNOUT_BASELINE"] != "" {
		base += " TURNOUT_BASELINE=bench/bin/" + filepath.Base(m["TURNOUT_BASELINE"])
	}
	d.p("%s bash bench/upload.sh", base)
	d.p("# per contender and mode, after a 16 MiB warm-up of each mode:")
	d.p("bench/bin/upload -url http://127.0.0.1:PORT/upload -size %s -write %s [-chunked]", m["UPLOAD_SIZE"], m["UPLOAD_WRITE"])
	d.p("```")
	d.p("")
	d.p("Contenders as in the throughput run (same HAProxy and Turnout configurations, 50/50 over two")
	d.p("backends), on their own ports (UPLOAD_PORT_BASE=%s: backends +1/+2, HAProxy +11, nginx +12,", orDefault(m["UPLOAD_PORT_BASE"], "19300"))
	d.p("Turnout +19). nginx gets `%s` in its location: by default it", orDefault(u.nginx, "proxy_request_buffering off; client_max_body_size 0;"))
	d.p("buffers a request body (to disk beyond 16 KiB) before it connects to the backend, and refuses")
	d.p("bodies over 1 MiB. HAProxy streams with its defaults. turnout-http hands an upload (over 64 KiB")
	d.p("or chunked) from its event loops to the goroutine path, so it and turnout-goroutine-http move the")
	d.p("body with the same code: a difference between them is noise.")
	if m["TURNOUT_BASELINE"] != "" {
		d.p("baseline-http and baseline-goroutine-http: the same, run from `%s` (sha256 prefix %s):",
			filepath.Base(m["TURNOUT_BASELINE"]), orDefault(m["TURNOUT_BASELINE_SHA256"], "?"))
		d.p("%s.", orDefault(m["TURNOUT_BASELINE_LABEL"], "another build, to compare with in the same run"))
	}
	d.p("Raw output: `%s` (not in git).", relOut(u.dir))
	d.p("")
}

// spliceUploads replaces the "## Uploads" section of an existing document
// (or inserts it before "## Machine", else at the end) with section, and
// keeps the rest: bench/upload.sh run alone updates only its own section.
func spliceUploads(old, section string) string { return spliceSection(old, "## Uploads", section) }

// spliceSection replaces the section whose heading starts with heading (up
// to the next "## ") with section, or inserts it before "## Machine", else
// at the end.
func spliceSection(old, heading, section string) string {
	return spliceSectionBefore(old, heading, section, "## Machine")
}

// spliceSectionBefore is spliceSection inserting a new section before the
// heading before.
func spliceSectionBefore(old, heading, section, before string) string {
	lines := strings.SplitAfter(old, "\n")
	start, end := -1, len(lines)
	for i, l := range lines {
		if start < 0 && strings.HasPrefix(l, heading) {
			start = i
			continue
		}
		if start >= 0 && strings.HasPrefix(l, "## ") {
			end = i
			break
		}
	}
	if start < 0 {
		for i, l := range lines {
			if strings.HasPrefix(l, before) {
				return strings.Join(lines[:i], "") + section + strings.Join(lines[i:], "")
			}
		}
		return strings.TrimRight(old, "\n") + "\n\n" + section
	}
	return strings.Join(lines[:start], "") + section + strings.Join(lines[end:], "")
}

// uploadsOnly renders just the uploads section into the document at path,
// when it exists and has a "# Performance" title; ok is false otherwise.
func uploadsOnly(u *uploadData, path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "# Performance") {
		return "", false
	}
	d := doc{upload: u}
	d.uploads()
	return spliceUploads(string(b), d.b.String()), true
}
