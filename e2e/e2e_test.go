// Package e2e_test runs hitl end to end on a real embedded JetStream (one node, and a 3-node
// cluster on loopback), with real HTTP for the API and for the webhook bot.
package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/journal"
	"github.com/hitl-dev/hitl/streams"
)

// resumes counts, per run, how often code right after the run's answered Ask executed fresh
// (not as replay): a run resumed twice for one answer would count 2.
type resumes struct{ m sync.Map }

func (r *resumes) inc(runID string) {
	v, _ := r.m.LoadOrStore(runID, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (r *resumes) get(runID string) int64 {
	v, ok := r.m.Load(runID)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

type threeResult struct {
	Approved bool   `json:"approved"`
	Name     string `json:"name"`
	Color    string `json:"color"`
}

type oneInput struct {
	Timeout string `json:"timeout,omitempty"`
}

type oneResult struct {
	Outcome  string `json:"outcome"`
	Approved bool   `json:"approved"`
}

func registry(res *resumes) *hitl.Registry {
	reg := hitl.NewRegistry()
	bot := []string{"webhook:ops-bot"}
	hitl.Register(reg, "three", func(ctx context.Context, _ struct{}) (threeResult, error) {
		ok, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Approve?", Assignees: bot,
			Input: input.Spec{Type: input.Approval}})
		if err != nil {
			return threeResult{}, err
		}
		name, err := hitl.Ask[string](ctx, hitl.Request{Title: "Name?", Assignees: bot, Input: input.Spec{Type: input.Text}})
		if err != nil {
			return threeResult{}, err
		}
		color, err := hitl.Ask[string](ctx, hitl.Request{Title: "Color?", Assignees: bot, Input: input.Spec{
			Type: input.Select, Options: []input.Option{{ID: "red", Label: "Red"}, {ID: "blue", Label: "Blue"}}}})
		if err != nil {
			return threeResult{}, err
		}
		return threeResult{Approved: ok.Approved, Name: name, Color: color}, nil
	})
	hitl.Register(reg, "one", func(ctx context.Context, in oneInput) (oneResult, error) {
		req := hitl.Request{Title: "Go ahead?", Assignees: bot, Input: input.Spec{Type: input.Approval}}
		if in.Timeout != "" {
			d, err := time.ParseDuration(in.Timeout)
			if err != nil {
				return oneResult{}, err
			}
			req.Timeout = d
		}
		a, err := hitl.Ask[input.ApprovalAnswer](ctx, req)
		if !hitl.Replaying(ctx) {
			res.inc(hitl.RunID(ctx))
		}
		switch {
		case errors.Is(err, hitl.ErrTimeout):
			return oneResult{Outcome: "timed_out"}, nil
		case err != nil:
			return oneResult{}, err
		}
		return oneResult{Outcome: "answered", Approved: a.Approved}, nil
	})
	return reg
}

// botAnswers answers every question type the test workflows ask.
func botAnswers(req events.Request) any {
	switch req.Input.Type {
	case input.Approval:
		return map[string]any{"approved": true, "comment": "ok by bot"}
	case input.Text:
		return "Ada"
	case input.Select:
		return req.Input.Options[len(req.Input.Options)-1].ID
	}
	return nil
}

func TestThreeQuestionsThroughRESTAndWebhook(t *testing.T) {
	t.Parallel()
	testThreeQuestions(t, natstest.Single(t))
}

func TestClusterThreeQuestions(t *testing.T) {
	t.Parallel()
	testThreeQuestions(t, natstest.Cluster(t))
}

func testThreeQuestions(t *testing.T, env *natstest.Env) {
	s := newSystem(t, env, registry(&resumes{}))
	s.orchestrator()
	s.notifier()
	s.bot.onRequest(botAnswers)

	id := s.startRun("three", nil)
	v := s.waitRun(id, 30*time.Second, finished)
	if v.Status != events.RunCompleted {
		t.Fatalf("run %s: %s (%s)", id, v.Status, v.Error)
	}
	if got, want := string(v.Result), `{"approved":true,"name":"Ada","color":"blue"}`; got != want {
		t.Errorf("result = %s, want %s", got, want)
	}
	if v.Steps != 3 {
		t.Errorf("journal has %d positions, want 3", v.Steps)
	}
	// Every question reached the bot exactly once, with a valid signature, and every
	// resolution was shown to it.
	for pos := range 3 {
		rid := hitl.RequestID(id, pos)
		eventually(t, 10*time.Second, func() bool {
			_, resolved := s.bot.counts()
			return resolved[rid+"/ops-bot"] == 1
		}, func() string { return "resolved event for request " + rid })
		received, _ := s.bot.counts()
		if received[rid+"/ops-bot"] != 1 {
			t.Errorf("request %d delivered %d times, want 1", pos, received[rid+"/ops-bot"])
		}
		r := s.call("GET", "/v1/requests/"+rid, nil)
		var req events.Request
		r.decode(t, &req)
		if req.Status != events.StatusAnswered || req.Response == nil || req.Response.Responder != "webhook:ops-bot" {
			t.Errorf("request %d: status %s, response %+v", pos, req.Status, req.Response)
		}
		if req.Response != nil && len(req.Response.InputHash) != 64 {
			t.Errorf("request %d: input_hash %q", pos, req.Response.InputHash)
		}
	}
	if n := s.bot.badSigs.Load(); n != 0 {
		t.Errorf("%d webhook deliveries failed signature verification", n)
	}
}

func TestOrchestratorRestartWhileWaiting(t *testing.T) {
	t.Parallel()
	res := &resumes{}
	s := newSystem(t, natstest.Single(t), registry(res))
	first := s.orchestrator()
	s.notifier()

	id := s.startRun("one", nil)
	v := s.waitRun(id, 20*time.Second, waiting(1))
	first.stop() // the process that ran the run is gone; nothing of it stays in memory

	s.orchestrator() // a new instance on the same JetStream
	r := s.call("POST", "/v1/requests/"+v.Pending[0].ID+"/respond", map[string]any{"data": map[string]any{"approved": true}})
	if r.Status != http.StatusOK {
		t.Fatalf("respond: %d %s", r.Status, r.Body)
	}
	v = s.waitRun(id, 20*time.Second, finished)
	if v.Status != events.RunCompleted || string(v.Result) != `{"outcome":"answered","approved":true}` {
		t.Fatalf("run: %s %s %s", v.Status, v.Result, v.Error)
	}
	if n := res.get(id); n != 1 {
		t.Errorf("run resumed %d times after the answer, want 1", n)
	}
}

func TestTimeoutFiresAfterOrchestratorRestart(t *testing.T) {
	t.Parallel()
	res := &resumes{}
	s := newSystem(t, natstest.Single(t), registry(res))
	first := s.orchestrator()

	id := s.startRun("one", oneInput{Timeout: "1s"})
	v := s.waitRun(id, 20*time.Second, waiting(1))
	rid := v.Pending[0].ID
	first.stop()

	// The deadline passes while no orchestrator runs: the marker waits in the stream.
	r := s.call("GET", "/v1/requests/"+rid+"/wait?timeout=1500ms", nil)
	var req events.Request
	r.decode(t, &req)
	if req.Status != events.StatusPending {
		t.Fatalf("with no orchestrator running, request is %s, want pending", req.Status)
	}

	s.orchestrator()
	v = s.waitRun(id, 20*time.Second, finished)
	if string(v.Result) != `{"outcome":"timed_out","approved":false}` {
		t.Fatalf("run: %s %s %s", v.Status, v.Result, v.Error)
	}
	r = s.call("GET", "/v1/requests/"+rid, nil)
	r.decode(t, &req)
	if req.Status != events.StatusTimedOut || req.Response.Responder != "hitl:timeout" {
		t.Errorf("request: %s by %+v", req.Status, req.Response)
	}
	if n := res.get(id); n != 1 {
		t.Errorf("run resumed %d times, want 1", n)
	}
}

func TestTimeoutRacingAnswerHasOneOutcome(t *testing.T) {
	t.Parallel()
	res := &resumes{}
	s := newSystem(t, natstest.Single(t), registry(res))
	s.orchestrator()
	s.orchestrator()

	const runs = 12
	type race struct{ run, req string }
	var races []race
	for range runs {
		id := s.startRun("one", oneInput{Timeout: "1s"})
		races = append(races, race{run: id})
	}
	for i := range races {
		// The request's id derives from the run and the Ask's position. Waiting for the
		// request rather than for the run to be seen waiting: on a busy machine a run may
		// already have timed out by the time a poll looks.
		races[i].req = journal.RequestID(races[i].run, 0)
		eventually(t, 20*time.Second, func() bool { return s.call("GET", "/v1/requests/"+races[i].req, nil).Status == 200 },
			func() string { return "request of run " + races[i].run })
	}
	// Answer each request around its deadline (900ms to 1.6s after creation, as the timer
	// fires within 250ms of the whole second), so some answers win and some timeouts do.
	var wg sync.WaitGroup
	codes := make([]int, runs)
	for i, rc := range races {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.call("GET", "/v1/requests/"+rc.req, nil)
			var req events.Request
			r.decode(t, &req)
			time.Sleep(time.Until(req.CreatedAt.Add(900*time.Millisecond + time.Duration(i)*60*time.Millisecond)))
			codes[i] = s.call("POST", "/v1/requests/"+rc.req+"/respond", map[string]any{"data": map[string]any{"approved": true}}).Status
		}()
	}
	wg.Wait()

	_, js := s.env.Connect(t)
	stream, err := js.Stream(context.Background(), streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for i, rc := range races {
		v := s.waitRun(rc.run, 20*time.Second, finished)
		var req events.Request
		s.call("GET", "/v1/requests/"+rc.req, nil).decode(t, &req)
		outcomes[string(req.Status)]++
		switch {
		case codes[i] == http.StatusOK && req.Status != events.StatusAnswered,
			codes[i] == http.StatusConflict && req.Status != events.StatusTimedOut,
			codes[i] != http.StatusOK && codes[i] != http.StatusConflict:
			t.Errorf("run %d: answer got %d but the request is %s", i, codes[i], req.Status)
		}
		want := map[events.Status]string{events.StatusAnswered: "answered", events.StatusTimedOut: "timed_out"}[req.Status]
		if !strings.Contains(string(v.Result), `"outcome":"`+want+`"`) {
			t.Errorf("run %d: request %s but run result %s", i, req.Status, v.Result)
		}
		if n := res.get(rc.run); n != 1 {
			t.Errorf("run %d resumed %d times, want 1", i, n)
		}
		info, err := stream.Info(context.Background(), jetstreamSubjects(streams.SubjectResponse+rc.req))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects[streams.SubjectResponse+rc.req]; n != 1 {
			t.Errorf("run %d: %d responses passed the gate, want 1", i, n)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

func TestFiftyConcurrentAnswers(t *testing.T) {
	t.Parallel()
	res := &resumes{}
	s := newSystem(t, natstest.Single(t), registry(res))
	s.orchestrator()
	s.orchestrator()

	id := s.startRun("one", nil)
	rid := s.waitRun(id, 20*time.Second, waiting(1)).Pending[0].ID

	const n = 50
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i] = s.call("POST", "/v1/requests/"+rid+"/respond",
				map[string]any{"data": map[string]any{"approved": i%2 == 0}, "responder": fmt.Sprint("user-", i)}).Status
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusConflict] != n-1 {
		t.Fatalf("status codes %v, want one 200 and %d 409", count, n-1)
	}
	v := s.waitRun(id, 20*time.Second, finished)
	if v.Status != events.RunCompleted {
		t.Fatalf("run %s: %s", v.Status, v.Error)
	}
	time.Sleep(200 * time.Millisecond) // let any (wrong) second resumption show itself
	if got := res.get(id); got != 1 {
		t.Errorf("run resumed %d times, want 1", got)
	}
}

func TestTwoOrchestratorsTwoNotifiers200Runs(t *testing.T) {
	t.Parallel()
	testScaleOut(t, natstest.Single(t), 200)
}

func TestClusterTwoOrchestratorsTwoNotifiers200Runs(t *testing.T) {
	t.Parallel()
	testScaleOut(t, natstest.Cluster(t), 200)
}

func testScaleOut(t *testing.T, env *natstest.Env, runs int) {
	res := &resumes{}
	s := newSystem(t, env, registry(res))
	orchs := []*instance{s.orchestrator(), s.orchestrator()}
	notifiers := []*instance{s.notifier(), s.notifier()}
	// Both orchestrators are pulling before the burst starts: on a loaded machine one may
	// still be creating its consumers on the cluster when a fast burst is already done.
	_, js := env.Connect(t)
	for _, name := range []string{streams.ConsumerOrchestrator, streams.WorkflowConsumerName("one")} {
		eventually(t, 30*time.Second, func() bool {
			c, err := js.Consumer(context.Background(), streams.Stream, name)
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			return err == nil && info.NumWaiting >= 2
		}, func() string { return "both orchestrators pulling from " + name })
	}
	s.bot.onRequest(botAnswers)

	ids := make([]string, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i] = s.startRun("one", nil) }()
	}
	wg.Wait()
	for _, id := range ids {
		v := s.waitRun(id, 90*time.Second, finished)
		if v.Status != events.RunCompleted {
			t.Fatalf("run %s: %s %s", id, v.Status, v.Error)
		}
	}
	time.Sleep(300 * time.Millisecond) // let any (wrong) duplicate delivery or resumption land
	received, _ := s.bot.counts()
	for _, id := range ids {
		if n := res.get(id); n != 1 {
			t.Errorf("run %s resumed %d times, want 1", id, n)
		}
		if n := received[hitl.RequestID(id, 0)+"/ops-bot"]; n != 1 {
			t.Errorf("run %s: webhook delivered %d times, want 1", id, n)
		}
	}
	if len(received) != runs {
		t.Errorf("bot saw %d distinct requests, want %d", len(received), runs)
	}
	var finishedBy, deliveredBy []float64
	for _, o := range orchs {
		finishedBy = append(finishedBy, counter(t, o.reg, "hitl_runs_finished_total", nil))
	}
	for _, n := range notifiers {
		deliveredBy = append(deliveredBy, counter(t, n.reg, "hitl_notifications_total", map[string]string{"result": "delivered"}))
	}
	t.Logf("runs finished per orchestrator %v, deliveries per notifier %v", finishedBy, deliveredBy)
	for i := range 2 {
		if finishedBy[i] == 0 {
			t.Errorf("orchestrator %d finished no runs: work was not spread", i)
		}
		if deliveredBy[i] == 0 {
			t.Errorf("notifier %d delivered nothing: work was not spread", i)
		}
	}
	if total := finishedBy[0] + finishedBy[1]; total != float64(runs) {
		t.Errorf("runs finished %v in total, want %d", total, runs)
	}
}
