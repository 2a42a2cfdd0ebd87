package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the bench binary as the NATS server process
// that `bench scale` starts by re-executing itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == natsChildCommand {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serveNATS(ctx, os.Args[2:], os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestLevels(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []int
	}{
		{0, []int{0}},
		{500, []int{0, 500}},
		{10_000, []int{0, 10_000}},
		{100_000, []int{0, 10_000, 100_000}},
		{1_000_000, []int{0, 10_000, 100_000, 1_000_000}},
		{250_000, []int{0, 10_000, 100_000, 250_000}},
	} {
		if got := defaultLevels(c.n); !slices.Equal(got, c.want) {
			t.Errorf("defaultLevels(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	got, err := parseLevels("0, 1_000,5000", 9000)
	if err != nil || !slices.Equal(got, []int{0, 1000, 5000, 9000}) {
		t.Errorf("parseLevels: %v, %v; want [0 1000 5000 9000] (n appended)", got, err)
	}
	for _, bad := range []string{"10,5", "0,0", "-1", "x", "20000", ""} {
		if got, err := parseLevels(bad, 10_000); err == nil {
			t.Errorf("parseLevels(%q) = %v, want an error", bad, got)
		}
	}
}

func TestParseStatus(t *testing.T) {
	status := []byte("Name:\tresponder\nVmPeak:\t 1000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t9\n")
	rss, peak, err := parseStatus(status)
	if err != nil || rss != 1<<20 || peak != 2<<20 {
		t.Errorf("parseStatus = %d, %d, %v; want 1 MiB, 2 MiB", rss, peak, err)
	}
	if _, _, err := parseStatus([]byte("VmRSS:\t 12 kB\n")); err == nil {
		t.Error("parseStatus without VmHWM: no error")
	}
	if _, _, err := parseStatus([]byte("VmRSS:\t 12 MB\nVmHWM:\t 12 kB\n")); err == nil {
		t.Error("parseStatus with a unit other than kB: no error")
	}
}

func TestGaugeValue(t *testing.T) {
	body := []byte("# HELP hitl_requests_pending x\n# TYPE hitl_requests_pending gauge\nhitl_requests_pending_total 7\nhitl_requests_pending 1e+06\n")
	if v, ok := gaugeValue(body, "hitl_requests_pending"); !ok || v != 1e6 {
		t.Errorf("gaugeValue = %v, %v; want 1e6", v, ok)
	}
	if _, ok := gaugeValue(body, "hitl_missing"); ok {
		t.Error("gaugeValue found a metric that is not there")
	}
}

func TestSlope(t *testing.T) {
	level := func(pending int, nats, svc int64) *levelResult {
		r := &levelResult{Pending: pending, NATS: memory{rss: nats}, diskBytes: 10 * int64(pending), Services: map[string]*serviceResult{}}
		for _, name := range serviceNames {
			r.Services[name] = &serviceResult{running: 2 * svc, memory: memory{rss: svc, peak: 4 * svc}}
		}
		return r
	}
	s := slopeOf(level(1000, 50_000, 10_000), level(3000, 250_000, 16_000))
	want := slope{From: 1000, To: 3000, NATSServer: 100, Services: 9, ServicesRunning: 18, ServicesPeak: 36,
		Orchestrator: 3, Notifier: 3, Responder: 3, Disk: 10}
	if s != want {
		t.Errorf("slope = %+v, want %+v", s, want)
	}
}

// A small run of the whole benchmark: real NATS server process, the three services built
// from cmd/, every figure present and consistent with the count filled.
func TestScaleSmall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads process memory from /proc")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "../cmd/orchestrator", "../cmd/notifier", "../cmd/responder")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the services: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := runScale(ctx, []string{"-n", "40", "-levels", "0,25", "-concurrency", "8", "-bin", bin, "-data", t.TempDir(), "-scrapes", "2",
		"-timers", "100"},
		&stdout, &stderr)
	if err != nil {
		t.Fatalf("runScale: %v\n%s", err, stderr.String())
	}
	var lines []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 4 {
		t.Fatalf("stdout has %d lines, want 3 levels and a summary:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// Every level stays under a page of the listing (limit=50); the inbox may page too, by
	// 20 or more.
	for i, want := range []int{0, 25, 40} {
		var r struct {
			levelResult
			Timers levelTimers `json:"timers"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if r.Pending != want || r.PendingGauge != float64(want) || !r.GaugeExact || r.Delivered != int64(want) {
			t.Errorf("level %d: pending %d, gauge %v (exact %v), delivered %d; want %d each", i, r.Pending, r.PendingGauge,
				r.GaugeExact, r.Delivered, want)
		}
		if r.List.Status != 200 || r.Inbox.Status != 200 || r.List.Items != want || r.Inbox.Items < min(want, 20) || r.Inbox.Items > want {
			t.Errorf("level %d: list %+v, inbox %+v; want 200s with the pending requests", i, r.List, r.Inbox)
		}
		if tr := r.Timers; tr.Error != "" || tr.Count != 100 || tr.Fired != 100 || tr.Early != 0 || tr.LateMax <= 0 {
			t.Errorf("level %d: timers %+v; want 100 fired, none early", i, tr)
		}
		if r.NATS.RSSMiB <= 0 || r.DiskMiB <= 0 || len(r.Services) != 3 {
			t.Errorf("level %d: NATS RSS %v MiB, disk %v MiB, %d services", i, r.NATS.RSSMiB, r.DiskMiB, len(r.Services))
		}
		for name, s := range r.Services {
			if s.RSSMiB <= 0 || s.PeakMiB < s.RSSMiB || s.ReadyzMS <= 0 || s.HealthzMS <= 0 || s.ScrapeMS <= 0 {
				t.Errorf("level %d: %s: %+v", i, name, s)
			}
		}
	}
	var sum scaleSummary
	if err := json.Unmarshal([]byte(lines[3]), &sum); err != nil || !sum.Summary || sum.PerPend.From != 0 || sum.PerPend.To != 40 ||
		len(sum.Intervals) != 2 {
		t.Errorf("summary %s: %v", lines[3], err)
	}
}
