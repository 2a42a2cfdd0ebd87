package main

// `bench scale` (make scale) measures what grows with the number of pending requests: it
// fills N of them and, at levels on the way, prints one JSON line per level on stdout, then
// one summary line with the bytes each pending request costs the NATS server and the
// services. Progress and the services' start-up failures go to stderr.
//
// Everything runs as in production, each in its own process so that /proc/<pid>/status
// tells its memory: a NATS server with JetStream and file storage (this binary re-executed
// as `bench scale-nats`, embedding the server as `hitl dev` does, on loopback with a token)
// and the commands cmd/orchestrator, cmd/notifier and cmd/responder, built at the start.
// The requests are standalone (no run), created by many concurrent store.CreateRequest
// calls, the call POST /v1/requests makes, so the records, timers and request_info events
// are exactly what the services write. Each is assigned to a webhook bot served by this
// process, which acknowledges every delivery and answers none, so the notifier delivers
// and records every one while they stay pending.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scaleConfig is `bench scale`'s flags. Each field's default is on its flag.
type scaleConfig struct {
	n             int           // pending requests at the last level
	levels        []int         // ascending, from 0 or more to n
	concurrency   int           // CreateRequest calls in flight while filling
	timeout       time.Duration // each request's timeout: long, so that none expires during the run
	dataDir       string        // parent of the run's directory
	keep          bool          // keep the run's directory
	binDir        string        // prebuilt orchestrator, notifier and responder; empty builds them
	scrapes       int           // /metrics scrapes per service and level (the median is reported)
	drainTimeout  time.Duration // how long the services may take to catch up after a fill
	httpTimeout   time.Duration // bound of one probe (a listing of everything at 1M takes tens of seconds)
	workers       int           // HITL_WORKERS of the services; 0 leaves their default
	startDeadline time.Duration // a service not ready within this after its start fails the run
	timers        int           // timer lateness: deadlines per level; 0 skips it
	timersWindow  time.Duration // the deadlines fall within this
}

// defaultLevels are the levels for n: 0, 10k, 100k, 1M, ... up to n, and n itself.
func defaultLevels(n int) []int {
	levels := []int{0}
	for l := 10_000; l < n; l *= 10 {
		levels = append(levels, l)
	}
	if n > 0 {
		levels = append(levels, n)
	}
	return levels
}

// parseLevels reads "0,10000,100000": ascending, none negative, none above n; n is added
// when missing.
func parseLevels(s string, n int) ([]int, error) {
	var levels []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("-levels: %q is not a count of requests", f)
		}
		if v > n {
			return nil, fmt.Errorf("-levels: %d is above -n %d", v, n)
		}
		if len(levels) > 0 && v <= levels[len(levels)-1] {
			return nil, fmt.Errorf("-levels must ascend: %d after %d", v, levels[len(levels)-1])
		}
		levels = append(levels, v)
	}
	if len(levels) == 0 {
		return nil, errors.New("-levels: no level given")
	}
	if levels[len(levels)-1] != n {
		levels = append(levels, n)
	}
	return levels, nil
}

func parseScaleFlags(args []string, stderr io.Writer) (*scaleConfig, error) {
	cfg := &scaleConfig{}
	fs := flag.NewFlagSet("bench scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.n, "n", 100_000, "pending requests at the last level (make scale: SCALE_N)")
	levels := fs.String("levels", "", "comma-separated pending counts to measure at; default 0,10000,100000,1000000,... up to -n, and -n")
	fs.IntVar(&cfg.concurrency, "concurrency", 256, "store.CreateRequest calls in flight while filling")
	fs.DurationVar(&cfg.timeout, "timeout", 24*time.Hour, "timeout of every request (each arms a timer); long enough that none expires")
	fs.StringVar(&cfg.dataDir, "data", "", "parent directory of the run's JetStream store and service logs; default the system's temp dir")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the run's directory (JetStream store, service logs) instead of removing it")
	fs.StringVar(&cfg.binDir, "bin", "", "directory with prebuilt orchestrator, notifier and responder; default: go build them into the run's directory")
	fs.IntVar(&cfg.scrapes, "scrapes", 5, "/metrics scrapes per service at each level; the median and the maximum are reported")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 30*time.Minute, "fail if the services have not caught up this long after a fill")
	fs.DurationVar(&cfg.httpTimeout, "http-timeout", 10*time.Minute, "bound of one listing, inbox or /metrics request")
	fs.IntVar(&cfg.workers, "workers", 0, "HITL_WORKERS of the services; 0 keeps their default")
	fs.DurationVar(&cfg.startDeadline, "start-deadline", 10*time.Minute, "fail if a service is not ready this long after it started")
	fs.IntVar(&cfg.timers, "timers", 10_000, "timer lateness at each level: this many deadlines (bench/timers.go); 0 skips it")
	fs.DurationVar(&cfg.timersWindow, "timers-window", time.Second, "the -timers deadlines fall within this window")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case cfg.n < 0:
		return nil, errors.New("-n must not be negative")
	case cfg.concurrency < 1:
		return nil, errors.New("-concurrency must be at least 1")
	case cfg.timeout < time.Second || cfg.timeout > 365*24*time.Hour:
		return nil, errors.New("-timeout must be between 1s and 8760h (a request's limits)")
	case cfg.scrapes < 1:
		return nil, errors.New("-scrapes must be at least 1")
	case cfg.workers < 0:
		return nil, errors.New("-workers must not be negative")
	case cfg.timers < 0 || cfg.timersWindow <= 0:
		return nil, errors.New("-timers must not be negative and -timers-window must be positive")
	}
	var err error
	if *levels == "" {
		cfg.levels = defaultLevels(cfg.n)
	} else if cfg.levels, err = parseLevels(*levels, cfg.n); err != nil {
		return nil, err
	}
	return cfg, nil
}

// levelResult is one JSON line of stdout.
type levelResult struct {
	Pending      int     `json:"pending"`       // created by this run and not resolved
	PendingGauge float64 `json:"pending_gauge"` // hitl_requests_pending on the restarted responder
	GaugeExact   bool    `json:"gauge_exact"`   // the gauge reached Pending before the deadline
	FillS        float64 `json:"fill_s"`        // filling from the previous level
	FillPerS     float64 `json:"fill_per_s"`
	DrainS       float64 `json:"drain_s"` // until every consumer had caught up after the fill
	// Delivered is how many webhook deliveries the bot has acknowledged so far: the
	// notifier's work, one per request.
	Delivered int64 `json:"delivered"`

	NATS     memory                    `json:"nats_server"`
	DiskMiB  float64                   `json:"disk_mib"` // blocks used by the JetStream store directory
	Services map[string]*serviceResult `json:"services"`

	List   pageResult  `json:"list"`   // GET /v1/requests?status=pending&limit=50
	Inbox  pageResult  `json:"inbox"`  // GET /inbox, signed in as an operator
	Timers interface{} `json:"timers"` // measureTimers' result; null with -timers 0

	diskBytes int64
}

// memory is one process's resident memory.
type memory struct {
	RSSMiB  float64 `json:"rss_mib"`  // after the services' restart, once the pending gauge is exact
	PeakMiB float64 `json:"peak_mib"` // VmHWM at the end of the level (since the process started)
	rss     int64
	peak    int64
}

// serviceResult is one service at one level.
type serviceResult struct {
	// RunningMiB is the RSS after the fill, before the restart: memory grown while running.
	RunningMiB float64 `json:"running_rss_mib"`
	running    int64
	memory
	// AfterProbesMiB is the RSS after the listing, inbox and scrapes of the level.
	AfterProbesMiB float64 `json:"after_probes_rss_mib"`
	HealthzMS      float64 `json:"healthz_ms"` // from exec until /healthz answered 200
	ReadyzMS       float64 `json:"readyz_ms"`  // from exec until /readyz answered 200
	ScrapeMS       float64 `json:"scrape_ms"`  // median of -scrapes GET /metrics
	ScrapeMaxMS    float64 `json:"scrape_max_ms"`
}

// pageResult is one timed page.
type pageResult struct {
	MS     float64 `json:"ms"`
	Bytes  int64   `json:"bytes"`
	Items  int     `json:"items"` // requests on the page
	Status int     `json:"status"`
	// NextCursor says whether the listing's reply carried a next_cursor (it pages); absent
	// for the inbox.
	NextCursor *bool `json:"next_cursor,omitempty"`
}

// scaleSummary is the last line of stdout: the slope of memory and disk over the pending
// count, from the first level to the last and between consecutive levels.
type scaleSummary struct {
	Summary   bool        `json:"summary"`
	N         int         `json:"n"`
	Levels    []int       `json:"levels"`
	FillS     float64     `json:"fill_s"` // filling all n, waits for the services excluded
	TotalS    float64     `json:"total_s"`
	PerPend   slope       `json:"bytes_per_pending"` // first level to last
	Intervals []slope     `json:"intervals"`         // each pair of consecutive levels
	Timers    interface{} `json:"timers_note"`
}

type slope struct {
	From       int     `json:"from"`
	To         int     `json:"to"`
	NATSServer float64 `json:"nats_server"`
	// Services is the sum of the three services' RSS once restarted (rss_mib); each also
	// on its own. ServicesRunning sums their RSS after the fill, before the restart
	// (running_rss_mib), ServicesPeak their VmHWM at the end of the level (peak_mib).
	Services        float64 `json:"services"`
	ServicesRunning float64 `json:"services_running"`
	ServicesPeak    float64 `json:"services_peak"`
	Orchestrator    float64 `json:"orchestrator"`
	Notifier        float64 `json:"notifier"`
	Responder       float64 `json:"responder"`
	Disk            float64 `json:"disk"`
}

func slopeOf(a, b *levelResult) slope {
	dn := float64(b.Pending - a.Pending)
	per := func(x, y int64) float64 {
		if dn == 0 {
			return 0
		}
		return float64(int64(float64(y-x)/dn*10)) / 10
	}
	s := slope{From: a.Pending, To: b.Pending, NATSServer: per(a.NATS.rss, b.NATS.rss), Disk: per(a.diskBytes, b.diskBytes)}
	var sa, sb, ra, rb, pa, pb int64
	for _, name := range serviceNames {
		sa, sb = sa+a.Services[name].rss, sb+b.Services[name].rss
		ra, rb = ra+a.Services[name].running, rb+b.Services[name].running
		pa, pb = pa+a.Services[name].peak, pb+b.Services[name].peak
	}
	s.Services, s.ServicesRunning, s.ServicesPeak = per(sa, sb), per(ra, rb), per(pa, pb)
	s.Orchestrator = per(a.Services["orchestrator"].rss, b.Services["orchestrator"].rss)
	s.Notifier = per(a.Services["notifier"].rss, b.Services["notifier"].rss)
	s.Responder = per(a.Services["responder"].rss, b.Services["responder"].rss)
	return s
}

func runScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseScaleFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	parent := cfg.dataDir
	if parent != "" {
		if err := os.MkdirAll(parent, 0o700); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(parent, "hitl-scale-")
	if err != nil {
		return err
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	}
	prog := &progress{w: stderr, start: time.Now()}
	prog.printf("scale: %d pending requests, levels %v, %d CreateRequest calls in flight, data in %s", cfg.n, cfg.levels, cfg.concurrency, dir)
	h, err := startHarness(ctx, cfg, dir, prog)
	if err != nil {
		return err
	}
	defer h.close()

	var results []*levelResult
	created := 0
	var fillTotal time.Duration
	for _, level := range cfg.levels {
		res := &levelResult{Services: map[string]*serviceResult{}}
		if level > created {
			prog.printf("scale: filling %d → %d", created, level)
			took, err := h.fill(ctx, created, level)
			if err != nil {
				return fmt.Errorf("fill to %d: %w", level, err)
			}
			fillTotal += took
			res.FillS, res.FillPerS = round(took.Seconds()), math1(float64(level-created)/took.Seconds())
			created = level
		}
		res.Pending = created
		if err := h.measure(ctx, res); err != nil {
			return fmt.Errorf("at %d pending: %w", created, err)
		}
		line, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
		results = append(results, res)
	}

	sum := scaleSummary{Summary: true, N: cfg.n, Levels: cfg.levels, FillS: round(fillTotal.Seconds()),
		TotalS: round(time.Since(prog.start).Seconds()), Timers: timersNote(cfg)}
	if len(results) > 1 {
		sum.PerPend = slopeOf(results[0], results[len(results)-1])
		for i := 1; i < len(results); i++ {
			sum.Intervals = append(sum.Intervals, slopeOf(results[i-1], results[i]))
		}
	}
	line, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))
	prog.printf("scale: done; stopping")
	if cfg.keep {
		prog.printf("scale: kept %s", dir)
	}
	return h.close()
}

func math1(v float64) float64 { return float64(int64(v*10)) / 10 }

func mib(b int64) float64 { return round(float64(b) / (1 << 20)) }

// median of at least one duration, in milliseconds; the slice is sorted in place.
func medianMS(d []time.Duration) (median, maxMS float64) {
	slices.Sort(d)
	return ms(d[len(d)/2]), ms(d[len(d)-1])
}

// diskUsage is the bytes of blocks allocated under dir, as du counts them.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) { // a block file compacted away while walking
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		total += allocated(info)
		return nil
	})
	return total, err
}
