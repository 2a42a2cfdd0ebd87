package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// tinyIn is the input of the tiny workflows of these tests.
type tinyIn struct {
	Ask       bool     `json:"ask"`
	Assignees []string `json:"assignees,omitempty"`
}

// registerTiny registers a workflow that records a step with its own name and, when asked to,
// asks one yes/no question: small enough for hundreds of runs, and it shows which code ran.
func registerTiny(reg *hitl.Registry, name string) {
	hitl.Register(reg, name, func(ctx context.Context, in tinyIn) (string, error) {
		who, err := hitl.Step(ctx, "whoami", func(context.Context) (string, error) { return name, nil })
		if err != nil || !in.Ask {
			return who, err
		}
		ok, err := hitl.Ask[bool](ctx, hitl.Request{Title: "Go on?", Input: input.Spec{Type: input.Boolean}, Assignees: in.Assignees})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s:%v", who, ok), nil
	})
}

// orchestratorFor starts an orchestrator that hosts reg's workflows, on its own connection.
func (s *system) orchestratorFor(reg *hitl.Registry, check func([]string) error) *instance {
	m := prometheus.NewRegistry()
	st := s.newStore()
	o, err := engine.New(engine.Config{Store: st, Registry: reg, Logger: s.logs, Metrics: metrics.New(m),
		CheckAssignees: check})
	if err != nil {
		s.t.Fatal(err)
	}
	return &instance{stop: flushedStop(s.run(o.Run), st), reg: m}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var n uint64
			for _, m := range mf.Metric {
				n += m.GetHistogram().GetSampleCount()
			}
			return n
		}
	}
	return 0
}

func consumerInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(context.Background(), streams.Stream, name)
	if err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	return c.CachedInfo()
}

// Two orchestrators with disjoint registries share one JetStream: each run reaches only the
// instance hosting its workflow, the first time, and a run of a workflow nobody hosts waits,
// queued, until an instance hosting it starts.
func TestRunsReachOnlyInstancesHostingTheirWorkflow(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	s := newSystem(t, env, hitl.NewRegistry()) // the responder hosts no workflow
	ctx := context.Background()

	// Before any orchestrator runs, a run of a workflow that none will host for a while.
	parked := s.startRun("wf-c", tinyIn{Ask: true})
	if v := s.getRun(parked); v.Status != events.RunQueued {
		t.Fatalf("a run nobody hosts: %s, want queued", v.Status)
	}

	regA, regB := hitl.NewRegistry(), hitl.NewRegistry()
	registerTiny(regA, "wf-a")
	registerTiny(regB, "wf-b")
	a := s.orchestratorFor(regA, nil)
	b := s.orchestratorFor(regB, nil)

	const perWorkflow = 200 // half of them ask a question
	want := map[string]string{}
	for i := range perWorkflow {
		for _, wf := range []string{"wf-a", "wf-b"} {
			ask := i%2 == 0
			if i%20 == 0 { // some through the API, the rest straight through the store
				want[s.startRun(wf, tinyIn{Ask: ask})] = wf + map[bool]string{true: ":true"}[ask]
				continue
			}
			in, _ := json.Marshal(tinyIn{Ask: ask})
			run, err := s.st.StartRun(ctx, wf, in)
			if err != nil {
				t.Fatal(err)
			}
			want[run.ID] = wf + map[bool]string{true: ":true"}[ask]
		}
	}

	// Answer each question once its run waits on it (so no answer races its checkpoint),
	// through the REST API as a person would.
	open := map[string]bool{}
	for id := range want {
		open[id] = true
	}
	answered := 0
	deadline := time.Now().Add(2 * time.Minute)
	for len(open) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs did not finish, e.g. %v", len(open), open)
		}
		progress := false
		for id := range open {
			run, _, err := s.st.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case run.Status == events.RunCompleted:
				var got string
				if err := json.Unmarshal(run.Result, &got); err != nil || got != want[id] {
					t.Errorf("run %s of %s: result %s, want %q", id, run.Workflow, run.Result, want[id])
				}
				delete(open, id)
				progress = true
			case run.Status.Final():
				t.Fatalf("run %s of %s is %s: %s", id, run.Workflow, run.Status, run.Error)
			case run.Status == events.RunWaiting && len(run.Waiting) == 1:
				r, _, err := s.st.Request(ctx, run.Waiting[0])
				if err != nil {
					t.Fatal(err)
				}
				if !r.Resolved() {
					if res := s.call("POST", "/v1/requests/"+r.ID+"/respond", map[string]any{"data": true}); res.Status != http.StatusOK {
						t.Fatalf("answer %s: %d %s", r.ID, res.Status, res.Body)
					}
					answered++
					progress = true
				}
			}
		}
		if !progress {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if answered != perWorkflow {
		t.Errorf("answered %d questions, want %d", answered, perWorkflow)
	}

	// Each instance started exactly its own workflow's runs, and resumed its own.
	for _, c := range []struct {
		name string
		in   *instance
	}{{"wf-a", a}, {"wf-b", b}} {
		if n := counter(t, c.in.reg, "hitl_runs_started_total", nil); n != perWorkflow {
			t.Errorf("the instance hosting %s started %v runs, want %d", c.name, n, perWorkflow)
		}
		if n := histogramCount(t, c.in.reg, "hitl_resume_latency_seconds"); n != perWorkflow/2 {
			t.Errorf("the instance hosting %s resumed %d runs, want %d", c.name, n, perWorkflow/2)
		}
	}

	// Every message was delivered as planned and acked: none went to an instance that could
	// not handle it. Each workflow's consumer got its starts and its resumes; the shared consumer
	// got the responses.
	_, js := env.Connect(t)
	wantDelivered := map[string]uint64{
		// The answers, perWorkflow/2 per workflow, each delivered twice: at once for the resume,
		// then after engine.FinishGrace to check that the winner finished its request.
		streams.ConsumerOrchestrator:         2 * perWorkflow,
		streams.WorkflowConsumerName("wf-a"): perWorkflow + perWorkflow/2,
		streams.WorkflowConsumerName("wf-b"): perWorkflow + perWorkflow/2,
	}
	for name, n := range wantDelivered {
		var info *jetstream.ConsumerInfo
		eventually(t, 10*time.Second, func() bool {
			info = consumerInfo(t, js, name)
			return info.NumAckPending == 0 && info.NumPending == 0
		}, func() string { return fmt.Sprintf("%s: %+v", name, info) })
		if info.NumRedelivered != 0 || info.Delivered.Consumer != n || info.AckFloor.Consumer != n {
			t.Errorf("%s: delivered %d, acked up to %d, redelivered %d; want %d each, and no redelivery",
				name, info.Delivered.Consumer, info.AckFloor.Consumer, info.NumRedelivered, n)
		}
	}

	// The run nobody hosts is still queued after all of that, and has no consumer yet.
	if v := s.getRun(parked); v.Status != events.RunQueued || v.Steps != 0 {
		t.Fatalf("the run nobody hosts: %s with %d steps, want queued", v.Status, v.Steps)
	}
	if _, err := js.Consumer(ctx, streams.Stream, streams.WorkflowConsumerName("wf-c")); err == nil {
		t.Error("a consumer exists for a workflow nobody hosts")
	}

	// An instance hosting it starts: the run runs, asks, and completes.
	regC := hitl.NewRegistry()
	registerTiny(regC, "wf-c")
	s.orchestratorFor(regC, nil)
	v := s.waitRun(parked, 15*time.Second, waiting(1))
	if r := s.call("POST", "/v1/requests/"+v.Pending[0].ID+"/respond", map[string]any{"data": false}); r.Status != http.StatusOK {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	v = s.waitRun(parked, 15*time.Second, finished)
	if v.Status != events.RunCompleted || string(v.Result) != `"wf-c:false"` {
		t.Fatalf("the queued run, once hosted: %s %s %s", v.Status, v.Result, v.Error)
	}
}

// The backlog gauge shows, per workflow, the commands no orchestrator has taken: it rises
// while the workflow's hosts are down and falls to zero once one runs again.
func TestWorkflowBacklogMetric(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	s := newSystem(t, env, hitl.NewRegistry())
	_, js := env.Connect(t)
	reg := prometheus.NewRegistry()
	metrics.RegisterWorkflowBacklog(js, reg, s.logs)
	backlog := func() map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "hitl_workflow_commands_pending" {
				continue
			}
			for _, m := range mf.Metric {
				out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
		return out
	}
	if got := backlog(); len(got) != 0 {
		t.Fatalf("no workflow hosted yet, but the backlog shows %v", got)
	}

	wfs := hitl.NewRegistry()
	registerTiny(wfs, "wf-m")
	first := s.orchestratorFor(wfs, nil)
	warm := s.startRun("wf-m", tinyIn{})
	s.waitRun(warm, 15*time.Second, finished)
	first.stop() // every host of wf-m is down

	var ids []string
	for range 3 {
		ids = append(ids, s.startRun("wf-m", tinyIn{}))
	}
	if got := backlog(); len(got) != 1 || got["wf-m"] != 3 {
		t.Fatalf("backlog with the workflow's hosts down: %v, want wf-m 3", got)
	}
	for _, id := range ids {
		if v := s.getRun(id); v.Status != events.RunQueued {
			t.Fatalf("run %s: %s, want queued", id, v.Status)
		}
	}

	s.orchestratorFor(wfs, nil)
	for _, id := range ids {
		if v := s.waitRun(id, 15*time.Second, finished); v.Status != events.RunCompleted {
			t.Fatalf("run %s: %s %s", id, v.Status, v.Error)
		}
	}
	eventually(t, 10*time.Second, func() bool { return backlog()["wf-m"] == 0 },
		func() string { return fmt.Sprintf("backlog %v", backlog()) })
}

// A workflow's Ask is held to the same assignee checks as a request made through the API: an
// assignee nobody can reach fails the run with an error naming it, and no request is left
// waiting for nobody.
func TestAskWithUnknownAssigneeFailsTheRun(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	s := newSystem(t, env, hitl.NewRegistry())
	routes, err := routing.New([]string{"webhook"}, map[string][]string{"ops": {"webhook:ops-bot"}},
		map[string]func(string) error{"webhook": func(target string) error {
			if target != "ops-bot" {
				return fmt.Errorf("no webhook named %q is configured", target)
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	wfs := hitl.NewRegistry()
	registerTiny(wfs, "asks")
	s.orchestratorFor(wfs, routes.CheckAll)

	good := s.startRun("asks", tinyIn{Ask: true, Assignees: []string{"webhook:ops-bot", "group:ops"}})
	if v := s.waitRun(good, 15*time.Second, waiting(1)); v.Pending[0].Assignees[1] != "group:ops" {
		t.Fatalf("reachable assignees: %+v", v.Pending[0])
	}
	for _, tc := range []struct{ assignee, why string }{
		{"webhook:ops-bto", `no webhook named "ops-bto" is configured`},
		{"group:finance", `no group named "finance"`},
		{"slack:#ops", "the slack channel is not configured"},
	} {
		id := s.startRun("asks", tinyIn{Ask: true, Assignees: []string{"webhook:ops-bot", tc.assignee}})
		v := s.waitRun(id, 15*time.Second, finished)
		if v.Status != events.RunFailed || !strings.Contains(v.Error, `assignee "`+tc.assignee+`"`) ||
			!strings.Contains(v.Error, tc.why) || !strings.Contains(v.Error, `ask "Go on?"`) || len(v.Pending) != 0 {
			t.Errorf("assignee %s: run %s, error %q; want failed naming the assignee (%s)", tc.assignee, v.Status, v.Error, tc.why)
		}
	}
	// Only the good run's request exists: the failed runs published none.
	page, err := s.st.ListRequests(context.Background(), store.RequestQuery{})
	if err != nil {
		t.Fatal(err)
	}
	all := page.Requests
	if len(all) != 1 || all[0].RunID != good {
		t.Errorf("requests: %d, want only the good run's", len(all))
	}
}

// A responder that hosts no workflow accepts a run of any valid workflow name, and refuses a
// name that cannot route with a 400 naming the field. It does not need to know which
// workflows exist.
func TestStartRunAcceptsAnyValidWorkflowName(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	s := newSystem(t, env, hitl.NewRegistry())

	for _, name := range []string{"expense", "Approval_2", "a", strings.Repeat("w", 64)} {
		r := s.call("POST", "/v1/runs", map[string]any{"workflow": name, "input": map[string]any{"n": 1}})
		var v respond.RunView
		if r.Status != http.StatusCreated {
			t.Errorf("%q: %d %s", name, r.Status, r.Body)
			continue
		}
		r.decode(t, &v)
		if v.Status != events.RunQueued || v.Workflow != name {
			t.Errorf("%q: %+v, want queued", name, v)
		}
		if got := s.getRun(v.ID); got.Status != events.RunQueued {
			t.Errorf("%q: GET shows %s, want queued", name, got.Status)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"a.b", "letters, digits"},
		{"has space", "letters, digits"},
		{"*", "letters, digits"},
		{"wf.>", "letters, digits"},
		{"-x", "starting with a letter or a digit"},
		{strings.Repeat("w", 65), "over the 64 limit"},
	} {
		r := s.call("POST", "/v1/runs", map[string]any{"workflow": tc.name})
		var e apiError
		if r.Status != http.StatusBadRequest || json.Unmarshal(r.Body, &e) != nil || e.Error.Code != "validation_failed" ||
			len(e.Error.Fields) != 1 || e.Error.Fields[0].Path != "workflow" ||
			!strings.Contains(e.Error.Fields[0].Message, "is not a valid workflow name") ||
			!strings.Contains(e.Error.Fields[0].Message, tc.want) {
			t.Errorf("%q: %d %s", tc.name, r.Status, r.Body)
		}
	}
	// Nothing was started for the refused names: only the four accepted runs exist.
	st, err := s.st.JetStream().Stream(context.Background(), streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(streams.SubjectRunStarted+">"))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.State.Subjects) != 4 {
		t.Errorf("run.started subjects: %v, want the 4 accepted runs", info.State.Subjects)
	}
}

// Run commands published before they carried their workflow (hitl.run.started.<run>,
// hitl.run.cancel.<run>) are forwarded to their workflow's subject and handled there.
func TestPreUpgradeRunCommandsAreForwarded(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	s := newSystem(t, env, hitl.NewRegistry())
	ctx := context.Background()
	js := s.st.JetStream()
	legacy := func(subject, typ, id string, data any) {
		t.Helper()
		m, err := events.NewMsg(subject, typ, id, data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// As the previous release's StartRun did: the command, then a running record.
	oldStartOf := func(workflow string, ask bool) string {
		run := &store.Run{ID: uuid.NewString(), Workflow: workflow, Status: events.RunRunning, CreatedAt: time.Now().UTC()}
		in, _ := json.Marshal(tinyIn{Ask: ask})
		run.Input = in
		legacy(streams.SubjectRunStarted+run.ID, events.TypeRunStarted, "run.started/"+run.ID,
			events.RunStarted{RunID: run.ID, Workflow: run.Workflow, Input: in})
		if _, err := s.st.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		return run.ID
	}
	oldStart := func(ask bool) string { return oldStartOf("legacy", ask) }
	done, asking := oldStart(false), oldStart(true)
	// A name the previous release accepted and this one cannot route: the run fails, saying why.
	dotted := oldStartOf("legacy.v1", false)

	wfs := hitl.NewRegistry()
	registerTiny(wfs, "legacy")
	s.orchestratorFor(wfs, nil)
	if v := s.waitRun(done, 15*time.Second, finished); v.Status != events.RunCompleted || string(v.Result) != `"legacy"` {
		t.Fatalf("a pre-upgrade start: %s %s %s", v.Status, v.Result, v.Error)
	}
	if v := s.waitRun(dotted, 15*time.Second, finished); v.Status != events.RunFailed || !strings.Contains(v.Error, "cannot be routed") {
		t.Fatalf("a pre-upgrade start of an unroutable name: %s %q", v.Status, v.Error)
	}
	s.waitRun(asking, 15*time.Second, waiting(1))
	legacy(streams.SubjectRunCancel+asking, events.TypeRunCancel, uuid.NewString(), events.RunCancel{RunID: asking, Reason: "old cancel"})
	if v := s.waitRun(asking, 15*time.Second, finished); v.Status != events.RunCancelled || v.Error != "cancelled: old cancel" {
		t.Fatalf("a pre-upgrade cancel: %s %s", v.Status, v.Error)
	}
}
