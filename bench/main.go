// Command bench measures hitl's full human-in-the-loop cycle against two floors, each on an
// embedded JetStream server with file storage, in one process (`make bench`):
//
//	go run ./bench [-runs 200] [-rounds 100] [-latency-runs 32] [-count-cycles 2000] [-data DIR] [-cpuprofile cpu.pprof]
//	go run ./bench -timers 10000 [-timers-window 1s] [-timers-create-rate 2500]
//
// Full cycle, per run: POST /v1/runs on the real responder → the orchestrator runs a
// one-question workflow (an approval for webhook:bot with a 1h timeout) → request_info → the
// notifier posts the signed webhook to a local bot → the bot POSTs the respond_url → the run
// resumes and completes (seen on its run.finished event); meanwhile the notifier posts the
// resolved webhook to the bot. Four HTTP hops: the start, the request's webhook, the answer,
// the resolution's webhook.
//
// Bare floor, per run: KV create, publish the request, consume and ack it, publish the
// answer, consume and ack it, KV update at the revision: four JetStream writes, no HTTP.
//
// HTTP floor, per run: the full cycle's four HTTP hops over the bare floor's four writes,
// with no hitl logic (httpfloor.go): POST /start (KV create, publish), a consumer POSTs the
// webhook to the bot, the bot POSTs the answer (publish), a consumer updates the KV and POSTs
// the resolution to the bot.
//
// Each keeps -runs cycles in flight (a closed loop: a worker starts its next cycle when the
// previous one completes) until runs×rounds cycles have completed, after an unmeasured
// warm-up: that window gives cycles/s, CPU per cycle and latency. Latency is answer→resumed:
// for the full cycle from the bot reading the 200 of its answer to the run.finished event;
// for the floors from the answer's publish ack (bare) or the 200 of the answer (HTTP) to the
// checkpoint update. Then, on the same system, come two windows of their own:
//
//   - the latency window, -latency-cycles cycles with -latency-runs (32) in flight: its
//     answer→resumed p99 is p99_ms_at_latency_runs in the JSON (full_p99_ms is at -runs);
//   - the counting window, -count-cycles cycles with -runs in flight, during which a tap (a
//     connection of its own subscribed to $JS.API.>, $JS.ACK.> and every stream's subjects,
//     count.go) counts JetStream round trips at the NATS level. Writes per cycle are the
//     messages the streams stored (each stream's last sequence, before and after: every KV
//     create, put, update, delete and purge marker is one, and so is every event) plus
//     purges and message deletes by API (STREAM.PURGE, STREAM.MSG.DELETE). Reads per cycle are
//     direct gets (DIRECT.GET: every KV get), stream message gets (STREAM.MSG.GET: reads from a
//     stream's leader) and info calls (INFO, STREAM.INFO, CONSUMER.INFO). Counted apart:
//     publishes not stored (duplicates, and the gate's and CAS's refusals), consumers' pull
//     requests, and acks. The tap adds a subscriber to every message, so it is never on
//     while time is measured.
//
// Human-readable lines go to stdout, the last line being one JSON object (figures without a
// prefix are the full cycle's; ratio is full/bare floor and ratio_http_floor full/HTTP floor,
// in cycles/s); progress and service logs (warn and above) go to stderr.
//
// The services are wired as `hitl dev` wires them (package server): one NATS connection, one
// store, one orchestrator, notifier and responder, 128 workers per consumer (-workers), the
// webhook channel with its default HTTP client (-webhook-conns tries another pool size). NATS
// is reached over loopback TCP, or in-process with -inprocess. -cpuprofile profiles the
// measured full-cycle window; its samples carry the pprof label component=orchestrator,
// notifier, responder, bot, nats-server, ... (go tool pprof -tags). On a machine shared with
// other work, cycles/s drops while CPU per cycle stays put: the output reports both, and
// warns when other processes took CPU during a window.
//
// With -timers N the bench measures timer lateness instead (bench/timers.go): N requests
// whose deadlines fall within -timers-window, on an embedded JetStream with one
// orchestrator; it prints one JSON line with the count, how many fired, how many early (must
// be 0) and the lateness p50/p99/max in ms.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

type config struct {
	runs, rounds, warmup, workers int
	latencyRuns, latencyCycles    int
	countCycles                   int
	webhookConns                  int
	dataDir                       string
	cpuProfile                    string
	inProcess                     bool
	phases                        string
	cycleTimeout                  time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "scale": // make scale: see scale.go
		err = runScale(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == natsChildCommand: // the NATS server process of bench scale
		err = serveNATS(ctx, os.Args[2:], os.Stdout)
	default:
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// The phases -phases may name.
const (
	phaseFull      = "full"
	phaseFloor     = "floor"
	phaseHTTPFloor = "http-floor"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.runs, "runs", 200, "cycles kept in flight at once")
	fs.IntVar(&cfg.rounds, "rounds", 100, "measured cycles = runs × rounds")
	fs.IntVar(&cfg.warmup, "warmup", -1, "unmeasured cycles first; -1 means one round (-runs)")
	fs.IntVar(&cfg.workers, "workers", 128, "handlers per consumer, as HITL_WORKERS (services and floor alike)")
	fs.IntVar(&cfg.latencyRuns, "latency-runs", 32, "in flight during the latency window that follows the measured one; 0 skips it")
	fs.IntVar(&cfg.latencyCycles, "latency-cycles", 3200, "cycles of the latency window")
	fs.IntVar(&cfg.countCycles, "count-cycles", 2000, "cycles of the counting window (JetStream reads and writes, -runs in flight); 0 skips it")
	data := fs.String("data", "", "directory for the servers' file storage (kept); default a temp dir removed at the end")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured full-cycle phase to this file")
	fs.BoolVar(&cfg.inProcess, "inprocess", false, "connect in-process instead of over loopback TCP")
	fs.StringVar(&cfg.phases, "phases", "all", "which to measure, comma-separated: full, floor, http-floor; all (or both) is every one")
	fs.IntVar(&cfg.webhookConns, "webhook-conns", 0,
		"experiment: idle connections per host for the webhook channel's client; 0 wires it as hitl dev does (the channel's default, 128 per host)")
	fs.DurationVar(&cfg.cycleTimeout, "cycle-timeout", time.Minute, "fail if one cycle takes longer than this")
	var timers timerOptions
	var timersPending int
	fs.IntVar(&timersPending, "timers-pending", 0, "with -timers: first fill this many requests that stay pending")
	fs.IntVar(&timers.Count, "timers", 0, "instead of the cycle: measure timer lateness with this many requests (bench/timers.go)")
	fs.DurationVar(&timers.Window, "timers-window", time.Second, "with -timers: the deadlines are spread over this window")
	fs.Float64Var(&timers.CreateRate, "timers-create-rate", 2500, "with -timers: create at most this many requests per second, before the deadlines")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if cfg.runs < 1 || cfg.rounds < 1 {
		return errors.New("-runs and -rounds must be at least 1")
	}
	if cfg.warmup < 0 {
		cfg.warmup = cfg.runs
	}
	if cfg.workers < 1 {
		return errors.New("-workers must be at least 1")
	}
	if cfg.latencyRuns < 0 || cfg.latencyCycles < 1 || cfg.countCycles < 0 {
		return errors.New("-latency-runs and -count-cycles must not be negative, -latency-cycles must be at least 1")
	}
	phases := map[string]bool{}
	for p := range strings.SplitSeq(cfg.phases, ",") {
		switch p = strings.TrimSpace(p); p {
		case "all", "both":
			phases[phaseFull], phases[phaseFloor], phases[phaseHTTPFloor] = true, true, true
		case phaseFull, phaseFloor, phaseHTTPFloor:
			phases[p] = true
		default:
			return fmt.Errorf("-phases: %q is not full, floor, http-floor or all", p)
		}
	}

	var err error
	if *data == "" {
		if cfg.dataDir, err = os.MkdirTemp("", "hitl-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(cfg.dataDir)
	} else {
		if err := os.MkdirAll(*data, 0o700); err != nil {
			return err
		}
		if cfg.dataDir, err = os.MkdirTemp(*data, "hitl-bench-"); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if timers.Count > 0 {
		prog := &progress{w: stderr, start: time.Now()}
		timers.Progress = prog.printf
		res, err := runTimers(ctx, cfg, timers, timersPending, log)
		if line, jerr := json.Marshal(res); jerr == nil && res.Fired > 0 {
			fmt.Fprintln(stdout, string(line))
		}
		return err
	}
	total := cfg.runs * cfg.rounds
	transport := "loopback TCP"
	if cfg.inProcess {
		transport = "in-process"
	}
	prog := &progress{w: stderr, start: time.Now()}
	prog.printf("%d cycles, %d in flight (closed loop), %d warm-up, %d workers per consumer, NATS over %s, data in %s, GOMAXPROCS %d",
		total, cfg.runs, cfg.warmup, cfg.workers, transport, cfg.dataDir, runtime.GOMAXPROCS(0))

	out := summary{Runs: cfg.runs, Rounds: cfg.rounds, Total: total, Warmup: cfg.warmup, Mode: "closed-loop", NATS: transport,
		LatencyRuns: cfg.latencyRuns}
	var full, floor, hfloor result
	if phases[phaseFull] {
		if full, err = measureFull(ctx, cfg, log, prog); err != nil {
			return fmt.Errorf("full cycle: %w", err)
		}
		report(stdout, full, cfg)
		out.FullCPUPerCycle, out.FullOtherCores = math.Round(full.cpuPerCycle()), round(full.others.Seconds()/full.wall.Seconds())
		out.FullCyclesPerSec, out.FullP50, out.FullP99 = round(full.cyclesPerSec()), round(quantile(full.lat, 0.50)), round(quantile(full.lat, 0.99))
		out.CPUPerCycle, out.Writes, out.Reads = out.FullCPUPerCycle, full.counts.Writes, full.counts.Reads
		out.FullP99At = round(quantile(full.latAt, 0.99))
	}
	if phases[phaseFloor] {
		if floor, err = measureSimple(ctx, cfg, prog, "floor", func() (simple, error) { return startFloor(ctx, cfg) }); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		report(stdout, floor, cfg)
		out.FloorCPUPerCycle, out.FloorOtherCores = math.Round(floor.cpuPerCycle()), round(floor.others.Seconds()/floor.wall.Seconds())
		out.FloorCyclesPerSec, out.FloorP50, out.FloorP99 = round(floor.cyclesPerSec()), round(quantile(floor.lat, 0.50)), round(quantile(floor.lat, 0.99))
		out.FloorWrites, out.FloorReads, out.FloorP99At = floor.counts.Writes, floor.counts.Reads, round(quantile(floor.latAt, 0.99))
	}
	if phases[phaseHTTPFloor] {
		if hfloor, err = measureSimple(ctx, cfg, prog, "http floor", func() (simple, error) { return startHTTPFloor(ctx, cfg) }); err != nil {
			return fmt.Errorf("http floor: %w", err)
		}
		report(stdout, hfloor, cfg)
		out.HTTPFloorCPUPerCycle, out.HTTPFloorOtherCores = math.Round(hfloor.cpuPerCycle()), round(hfloor.others.Seconds()/hfloor.wall.Seconds())
		out.HTTPFloorCyclesPerSec = round(hfloor.cyclesPerSec())
		out.HTTPFloorP50, out.HTTPFloorP99 = round(quantile(hfloor.lat, 0.50)), round(quantile(hfloor.lat, 0.99))
		out.HTTPFloorWrites, out.HTTPFloorReads = hfloor.counts.Writes, hfloor.counts.Reads
		out.HTTPFloorP99At = round(quantile(hfloor.latAt, 0.99))
	}
	if phases[phaseFull] && phases[phaseFloor] {
		out.Ratio = round(full.cyclesPerSec() / floor.cyclesPerSec())
		fmt.Fprintf(stdout, "ratio ours/floor (cycles/s): %.3f (target >= 0.3)\n", out.Ratio)
		if full.cpu > 0 && floor.cpu > 0 {
			out.CPURatio = round(floor.cpuPerCycle() / full.cpuPerCycle())
			fmt.Fprintf(stdout, "ratio floor/ours (CPU per cycle, steadier on a busy machine): %.3f\n", out.CPURatio)
		}
	}
	if phases[phaseFull] && phases[phaseHTTPFloor] {
		out.RatioHTTPFloor = round(full.cyclesPerSec() / hfloor.cyclesPerSec())
		fmt.Fprintf(stdout, "ratio ours/HTTP floor (cycles/s): %.3f (target >= 0.5)\n", out.RatioHTTPFloor)
		if full.cpu > 0 && hfloor.cpu > 0 {
			out.CPURatioHTTPFloor = round(hfloor.cpuPerCycle() / full.cpuPerCycle())
			fmt.Fprintf(stdout, "ratio HTTP floor/ours (CPU per cycle): %.3f\n", out.CPURatioHTTPFloor)
		}
	}
	if phases[phaseFull] && cfg.latencyRuns > 0 {
		fmt.Fprintf(stdout, "full cycle: answer→resumed p99 at %d in flight: %.2f ms (target <= 10)\n", cfg.latencyRuns, out.FullP99At)
	}
	line, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))
	return nil
}

// progress writes timestamped progress lines to stderr.
type progress struct {
	w     io.Writer
	start time.Time
}

func (p *progress) printf(format string, args ...any) {
	fmt.Fprintf(p.w, "bench [%6.2fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// summary is the last line of stdout. Figures without a prefix are the full cycle's.
type summary struct {
	Runs              int     `json:"runs"`
	Rounds            int     `json:"rounds"`
	Total             int     `json:"total"`
	Warmup            int     `json:"warmup"`
	Mode              string  `json:"mode"`
	NATS              string  `json:"nats"`
	FullCyclesPerSec  float64 `json:"full_cycles_per_sec"`
	FullP50           float64 `json:"full_p50_ms"` // answer→resumed, at -runs in flight
	FullP99           float64 `json:"full_p99_ms"`
	FloorCyclesPerSec float64 `json:"floor_cycles_per_sec"`
	FloorP50          float64 `json:"floor_p50_ms"`
	FloorP99          float64 `json:"floor_p99_ms"`
	Ratio             float64 `json:"ratio"` // full / bare floor, cycles/s

	HTTPFloorCyclesPerSec float64 `json:"http_floor_cycles_per_sec"`
	HTTPFloorP50          float64 `json:"http_floor_p50_ms"`
	HTTPFloorP99          float64 `json:"http_floor_p99_ms"`
	RatioHTTPFloor        float64 `json:"ratio_http_floor"` // full / HTTP floor, cycles/s

	// JetStream round trips per cycle, from the counting window (see count.go).
	Writes          float64 `json:"writes_per_cycle"`
	Reads           float64 `json:"reads_per_cycle"`
	FloorWrites     float64 `json:"floor_writes_per_cycle"`
	FloorReads      float64 `json:"floor_reads_per_cycle"`
	HTTPFloorWrites float64 `json:"http_floor_writes_per_cycle"`
	HTTPFloorReads  float64 `json:"http_floor_reads_per_cycle"`

	// Answer→resumed p99 with -latency-runs in flight (32 by default), in a window of its own.
	LatencyRuns    int     `json:"latency_runs"`
	FullP99At      float64 `json:"p99_ms_at_latency_runs"`
	FloorP99At     float64 `json:"floor_p99_ms_at_latency_runs"`
	HTTPFloorP99At float64 `json:"http_floor_p99_ms_at_latency_runs"`

	// CPU time of this process per cycle: steadier than cycles/s on a shared machine.
	CPUPerCycle          float64 `json:"cpu_us_per_cycle"` // the full cycle's, as full_cpu_us_per_cycle
	FullCPUPerCycle      float64 `json:"full_cpu_us_per_cycle"`
	FloorCPUPerCycle     float64 `json:"floor_cpu_us_per_cycle"`
	HTTPFloorCPUPerCycle float64 `json:"http_floor_cpu_us_per_cycle"`
	CPURatio             float64 `json:"cpu_ratio,omitempty"`            // floor/ours CPU per cycle
	CPURatioHTTPFloor    float64 `json:"cpu_ratio_http_floor,omitempty"` // HTTP floor/ours CPU per cycle
	// Cores other processes used during each window (Linux only): > 0.05 means contention.
	FullOtherCores      float64 `json:"full_other_cores"`
	FloorOtherCores     float64 `json:"floor_other_cores"`
	HTTPFloorOtherCores float64 `json:"http_floor_other_cores"`
}

// round keeps three decimals.
func round(v float64) float64 { return math.Round(v*1000) / 1000 }

func measureFull(ctx context.Context, cfg *config, log *slog.Logger, progress *progress) (result, error) {
	progress.printf("full cycle: starting the server and the services")
	f, err := startFull(ctx, cfg, log)
	if err != nil {
		return result{}, err
	}
	res, err := func() (result, error) {
		if cfg.warmup > 0 {
			progress.printf("full cycle: warming up with %d cycles", cfg.warmup)
			if _, err := closedLoop(ctx, cfg.runs, cfg.warmup, f.cycle); err != nil {
				return result{}, fmt.Errorf("warm-up: %w", err)
			}
		}
		f.tracker.nextPhase()
		total := cfg.runs * cfg.rounds
		progress.printf("full cycle: measuring %d cycles", total)
		before := f.counters(ctx)
		hist0 := histogram(f.reg, "hitl_resume_latency_seconds")
		stopProfile, err := startProfile(cfg.cpuProfile)
		if err != nil {
			return result{}, err
		}
		var loopWall time.Duration
		_, cpu, others := window(func() {
			labelled("bench", func() { loopWall, err = closedLoop(ctx, cfg.runs, total, f.cycle) })
		})
		stopProfile()
		if err != nil {
			return result{}, err
		}
		after := f.counters(ctx)
		lat, early := f.tracker.latencies()
		r := result{name: "full cycle", total: total, wall: loopWall, cpu: cpu, others: others, lat: lat, early: early,
			perCycle: perCycle(before, after, total, fullStreams)}
		hist1 := histogram(f.reg, "hitl_resume_latency_seconds")
		if n := hist1.count - hist0.count; n > 0 {
			r.perCycle["engine resume_latency mean ms (gate→checkpoint)"] = (hist1.sum - hist0.sum) / float64(n) * 1000
		}
		r.perCycle["bot answers refused 409"] = float64(f.bot.conflicts.Load()) / float64(total)
		r.perCycle["harness HTTP retries after 503"] = float64(f.retries.Load()) / float64(total)
		if err := extraWindows(ctx, cfg, progress, "full cycle", f.srv, f.nc, f.tracker, f.cycle, &r); err != nil {
			return r, err
		}
		if n := f.bot.failures.Load() + f.bot.badSigs.Load() + f.failed.Load(); n > 0 {
			return r, fmt.Errorf("%d bot answers failed, %d bad signatures, %d runs not completed",
				f.bot.failures.Load(), f.bot.badSigs.Load(), f.failed.Load())
		}
		return r, nil
	}()
	progress.printf("full cycle: stopping")
	cerr := f.close()
	progress.printf("full cycle: stopped")
	if cerr != nil && err == nil {
		err = fmt.Errorf("services stopped with: %w", cerr)
	}
	return res, err
}

// extraWindows runs, after the measured window, the latency window (-latency-runs in flight)
// and the counting window (JetStream reads and writes, with the tap on), and puts their
// figures in r.
func extraWindows(ctx context.Context, cfg *config, progress *progress, name string, srv *natsServer, nc *nats.Conn,
	t *tracker, one func(context.Context) error, r *result) error {
	if cfg.latencyRuns > 0 {
		progress.printf("%s: latency window, %d cycles, %d in flight", name, cfg.latencyCycles, cfg.latencyRuns)
		t.nextPhase()
		if _, err := closedLoop(ctx, cfg.latencyRuns, cfg.latencyCycles, one); err != nil {
			return fmt.Errorf("latency window: %w", err)
		}
		r.latAt, _ = t.latencies()
		r.latRuns = cfg.latencyRuns
	}
	if cfg.countCycles > 0 {
		progress.printf("%s: counting window, %d cycles, %d in flight", name, cfg.countCycles, cfg.runs)
		c, err := countWindow(ctx, srv, nc, cfg.runs, cfg.countCycles, one)
		if err != nil {
			return fmt.Errorf("counting window: %w", err)
		}
		r.counts = c
	}
	return nil
}

// simple is a floor: a cycle and what measuring it needs.
type simple interface {
	cycle(ctx context.Context) error
	parts() (*natsServer, *nats.Conn, *tracker)
	counters(ctx context.Context) counters
	streams() []string
	close() error
}

func measureSimple(ctx context.Context, cfg *config, progress *progress, name string, start func() (simple, error)) (result, error) {
	f, err := start()
	if err != nil {
		return result{}, err
	}
	res, err := func() (result, error) {
		srv, nc, tracker := f.parts()
		if cfg.warmup > 0 {
			progress.printf("%s: warming up with %d cycles", name, cfg.warmup)
			if _, err := closedLoop(ctx, cfg.runs, cfg.warmup, f.cycle); err != nil {
				return result{}, fmt.Errorf("warm-up: %w", err)
			}
		}
		tracker.nextPhase()
		total := cfg.runs * cfg.rounds
		progress.printf("%s: measuring %d cycles", name, total)
		before := f.counters(ctx)
		var loopWall time.Duration
		_, cpu, others := window(func() { loopWall, err = closedLoop(ctx, cfg.runs, total, f.cycle) })
		if err != nil {
			return result{}, err
		}
		after := f.counters(ctx)
		lat, early := tracker.latencies()
		r := result{name: name, total: total, wall: loopWall, cpu: cpu, others: others, lat: lat, early: early,
			perCycle: perCycle(before, after, total, f.streams())}
		return r, extraWindows(ctx, cfg, progress, name, srv, nc, tracker, f.cycle, &r)
	}()
	if cerr := f.close(); cerr != nil && err == nil {
		err = fmt.Errorf("%s stopped with: %w", name, cerr)
	}
	return res, err
}

func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	file, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(file); err != nil {
		file.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); file.Close() }, nil
}

type hist struct {
	count uint64
	sum   float64
}

func histogram(reg *prometheus.Registry, name string) hist {
	mfs, err := reg.Gather()
	if err != nil {
		return hist{}
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) > 0 {
			h := mf.Metric[0].GetHistogram()
			return hist{count: h.GetSampleCount(), sum: h.GetSampleSum()}
		}
	}
	return hist{}
}

func report(w io.Writer, r result, cfg *config) {
	fmt.Fprintf(w, "%s: %d cycles, %d in flight (closed loop), %.2fs: %.1f cycles/s\n",
		r.name, r.total, cfg.runs, r.wall.Seconds(), r.cyclesPerSec())
	if r.cpu > 0 {
		fmt.Fprintf(w, "%s: process CPU %.2fs = %.2f of %d cores busy, %.0f µs CPU per cycle\n", r.name, r.cpu.Seconds(),
			r.cpu.Seconds()/r.wall.Seconds(), runtime.NumCPU(), r.cpuPerCycle())
	}
	if cores := r.others.Seconds() / r.wall.Seconds(); cores >= 0.05 {
		fmt.Fprintf(w, "%s: WARNING: other processes used %.2f cores during the window; cycles/s is understated\n", r.name, cores)
	}
	fmt.Fprintf(w, "%s: answer→resumed latency over %d cycles: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
		r.name, len(r.lat), quantile(r.lat, 0.50), quantile(r.lat, 0.90), quantile(r.lat, 0.99), quantile(r.lat, 1))
	if r.early > 0 {
		fmt.Fprintf(w, " (%d finished before the answer's ack was read: counted as 0)", r.early)
	}
	fmt.Fprintln(w)
	if r.latRuns > 0 {
		fmt.Fprintf(w, "%s: answer→resumed latency at %d in flight over %d cycles: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
			r.name, r.latRuns, len(r.latAt), quantile(r.latAt, 0.50), quantile(r.latAt, 0.90), quantile(r.latAt, 0.99), quantile(r.latAt, 1))
	}
	if c := r.counts; c.StoredByName != nil {
		fmt.Fprintf(w, "%s: JetStream per cycle (counting window): writes %.3f (stored %.3f, purges and deletes by API %.3f), "+
			"reads %.3f (direct gets %.3f, stream msg gets %.3f, infos %.3f)\n",
			r.name, c.Writes, c.Stored, c.Purges, c.Reads, c.DirectGets, c.MsgGets, c.Infos)
		fmt.Fprintf(w, "%s: JetStream per cycle (counting window): publishes %.3f (not stored: %.3f), pull requests %.3f, acks %.3f, other API %.3f\n",
			r.name, c.Publishes, c.NotStored, c.Pulls, c.Acks, c.OtherAPI)
		names := make([]string, 0, len(c.StoredByName))
		for n := range c.StoredByName {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "%s: JetStream per cycle (counting window): stored in %s = %.3f\n", r.name, n, c.StoredByName[n])
		}
		kinds := make([]string, 0, len(c.ByKind))
		for k := range c.ByKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			if c.ByKind[k] == 0 {
				continue
			}
			fmt.Fprintf(w, "%s: JetStream per cycle (counting window): %s = %.3f\n", r.name, k, c.ByKind[k])
		}
	}
	keys := make([]string, 0, len(r.perCycle))
	for k := range r.perCycle {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: per cycle: %s = %.3f\n", r.name, k, r.perCycle[k])
	}
}
