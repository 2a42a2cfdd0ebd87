package surfacetest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// Behaviour names one behaviour of the suite; it is also the name of its subtest.
type Behaviour string

// The behaviours, as the package documentation describes them.
const (
	Delivers                      Behaviour = "Delivers"
	IdempotentOnRedelivery        Behaviour = "IdempotentOnRedelivery"
	UpdatesOnResolution           Behaviour = "UpdatesOnResolution"
	ReportsFailedDelivery         Behaviour = "ReportsFailedDelivery"
	RejectsBadConfiguration       Behaviour = "RejectsBadConfiguration"
	AnswerAcceptedOnce            Behaviour = "AnswerAcceptedOnce"
	RefusedIdentityChangesNothing Behaviour = "RefusedIdentityChangesNothing"
	ConcurrentAnswersAcceptOne    Behaviour = "ConcurrentAnswersAcceptOne"
	LateAnswerIsGone              Behaviour = "LateAnswerIsGone"
)

// NotifyBehaviours are the behaviours of the notify half, AnswerBehaviours those of the
// answer half. RejectsBadConfiguration is the surface's as a whole. Run runs the notify
// half's, RejectsBadConfiguration, then the answer half's.
var (
	NotifyBehaviours = []Behaviour{Delivers, IdempotentOnRedelivery, UpdatesOnResolution, ReportsFailedDelivery}
	AnswerBehaviours = []Behaviour{AnswerAcceptedOnce, RefusedIdentityChangesNothing, ConcurrentAnswersAcceptOne, LateAnswerIsGone}
)

func behaviours() []Behaviour {
	return slices.Concat(NotifyBehaviours, []Behaviour{RejectsBadConfiguration}, AnswerBehaviours)
}

// Env is what the suite gives a subject to build its surface on: one per behaviour.
type Env struct {
	// Store is the real store on an embedded JetStream; the suite reads it to check what
	// the surface did.
	Store *store.Store
	// Routes decide who may answer: the answer handlers must ask them.
	Routes *routing.Routes
	// LinkSecret signs every link: the notifier's respond_url and the links a channel makes
	// itself (an email's option links, the web inbox's link tokens).
	LinkSecret []byte
	// PublicURL is the base URL of the HTTP server in front of Answer.Handler, and the
	// notifier's public URL: links point here.
	PublicURL string
	// Logger writes to the test's log.
	Logger *slog.Logger
}

// Subject is one surface under test.
type Subject struct {
	// Notify is the notify half; nil for a surface with no channel of its own (the web
	// inbox), which must then name NotifyBehaviours in Skip.
	Notify *Notify
	// Answer is the answer half; nil for a surface where nobody answers (the console),
	// which must then name AnswerBehaviours in Skip.
	Answer *Answer
	// BadConfigs each try to build a part of the surface (its channel, its handlers) from a
	// bad configuration, or check a bad assignee target; each must fail with an error.
	BadConfigs map[string]func() error
	// Skip names behaviours that do not apply to this surface, each with the reason; the
	// suite reports them skipped with it.
	Skip map[Behaviour]string
}

// Notify is a surface's notify half and a view of what its recipient saw.
type Notify struct {
	// Channel, built with a valid configuration.
	Channel notify.Channel
	// Observer puts Channel among the notifier's observers (notify.Config.Observers),
	// which see every request, rather than among its channels.
	Observer bool
	// Assignee reaches a recipient through Channel, e.g. "webhook:ops-bot". Unused for an
	// observer: its requests name no assignee.
	Assignee string
	// Delivered counts how often the recipient was shown the request.
	Delivered func(requestID string) int
	// Resolved counts how often the recipient's surface was updated with the outcome.
	Resolved func(requestID string) int
	// Break makes deliveries to the recipient fail from now on, with errors worth retrying
	// (its server errors, its writer fails).
	Break func()
}

// assignee is the assignee whose delivery records the suite reads.
func (n *Notify) assignee() string {
	if n.Observer {
		return n.Channel.Kind() + ":*" // how the notifier keys an observer's deliveries
	}
	return n.Assignee
}

// Answer is a surface's answer half.
type Answer struct {
	// Handler is the surface's real answer handler, built on the Env's Store, Routes and
	// LinkSecret (and, for the surface's own links, PublicURL); the suite serves it at
	// Env.PublicURL.
	Handler http.Handler
	// Assignees are who the suite's requests are sent to. They must reach both Allowed
	// identities and Refused (with a notify half, through Notify.Channel).
	Assignees []string
	// Allowed are two identities that may answer, as the surface records them as the
	// responder ("slack:@U0ALICE", "email:a@b.c", "telegram:111"): the suite makes them
	// the request's approvers.
	Allowed [2]string
	// Refused is an identity the request reaches that is not among its approvers.
	Refused string
	// Prepare gets identity as ready to answer req, approving or rejecting it, as a person
	// is before answering: it waits for what the surface shows them (the message and its
	// buttons, the email and its link) and opens what they open (the confirmation page,
	// the form and its CSRF token). It is called while req is pending. The Attempt it
	// returns sends the answer.
	Prepare func(t *testing.T, req *events.Request, identity string, approve bool) Attempt
}

// Attempt sends a prepared answer through the surface's wire path. It may be called from
// any goroutine, and reports whether the surface accepted the answer; an error means the
// attempt could not be made at all (the connection failed, an unexpected status).
type Attempt func(ctx context.Context) (Outcome, error)

// Outcome is how the surface answered an attempt.
type Outcome struct {
	// Accepted: the surface told the person their answer is recorded.
	Accepted bool
	// Said is what it told them (a status, a reply's text), for the test log.
	Said string
}

// Run runs every behaviour against fresh subjects from newSubject, one per behaviour.
func Run(t *testing.T, newSubject func(t *testing.T, env Env) Subject) {
	t.Helper()
	// One subject is built first, to check its declarations and run the checks of
	// configuration, which need no notifier.
	s := newSubject(t, newEnv(t).Env)
	if err := s.check(); err != nil {
		t.Fatalf("surfacetest: %v", err)
	}
	run := map[Behaviour]func(t *testing.T){
		Delivers:                      func(t *testing.T) { delivers(t, newSubject) },
		IdempotentOnRedelivery:        func(t *testing.T) { idempotentOnRedelivery(t, newSubject) },
		UpdatesOnResolution:           func(t *testing.T) { updatesOnResolution(t, newSubject) },
		ReportsFailedDelivery:         func(t *testing.T) { reportsFailedDelivery(t, newSubject) },
		RejectsBadConfiguration:       func(t *testing.T) { rejectsBadConfiguration(t, s.BadConfigs) },
		AnswerAcceptedOnce:            func(t *testing.T) { answerAcceptedOnce(t, newSubject) },
		RefusedIdentityChangesNothing: func(t *testing.T) { refusedIdentityChangesNothing(t, newSubject) },
		ConcurrentAnswersAcceptOne:    func(t *testing.T) { concurrentAnswersAcceptOne(t, newSubject) },
		LateAnswerIsGone:              func(t *testing.T) { lateAnswerIsGone(t, newSubject) },
	}
	for _, b := range behaviours() {
		t.Run(string(b), func(t *testing.T) {
			if reason, ok := s.Skip[b]; ok {
				t.Skip(reason)
			}
			if b != RejectsBadConfiguration {
				t.Parallel()
			}
			run[b](t)
		})
	}
}

// check reports a subject that cannot be tested as it is.
func (s Subject) check() error {
	var problems []string
	for b, reason := range s.Skip {
		if !slices.Contains(behaviours(), b) {
			problems = append(problems, fmt.Sprintf("Skip names %q, which is no behaviour of the suite", b))
		}
		if strings.TrimSpace(reason) == "" {
			problems = append(problems, fmt.Sprintf("Skip names %s without a reason", b))
		}
	}
	undeclared := func(half string, bs []Behaviour) {
		for _, b := range bs {
			if _, ok := s.Skip[b]; !ok {
				problems = append(problems, fmt.Sprintf("the subject has no %s half, and Skip gives no reason for %s", half, b))
			}
		}
	}
	if n := s.Notify; n == nil {
		undeclared("notify", NotifyBehaviours)
	} else {
		switch {
		case n.Channel == nil:
			problems = append(problems, "Notify.Channel is nil")
		case !n.Observer && !strings.HasPrefix(n.Assignee, n.Channel.Kind()+":"):
			problems = append(problems, fmt.Sprintf("Notify.Assignee %q is not of the channel's kind %q", n.Assignee, n.Channel.Kind()))
		}
		if n.Delivered == nil || n.Resolved == nil || n.Break == nil {
			problems = append(problems, "Notify needs Delivered, Resolved and Break")
		}
	}
	if a := s.Answer; a == nil {
		undeclared("answer", AnswerBehaviours)
	} else {
		switch {
		case a.Handler == nil || a.Prepare == nil:
			problems = append(problems, "Answer needs Handler and Prepare")
		case len(a.Assignees) == 0:
			problems = append(problems, "Answer.Assignees is empty")
		case a.Allowed[0] == "" || a.Allowed[1] == "" || strings.EqualFold(a.Allowed[0], a.Allowed[1]):
			problems = append(problems, fmt.Sprintf("Answer.Allowed must be two different identities, not %q", a.Allowed))
		case a.Refused == "" || slices.ContainsFunc(a.Allowed[:], func(id string) bool { return strings.EqualFold(id, a.Refused) }):
			problems = append(problems, fmt.Sprintf("Answer.Refused %q must be an identity that is not allowed", a.Refused))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("the subject cannot be tested: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Constants of the suite's environment.
const (
	linkSecret = "surfacetest-link-secret-0123456789"
	// maxDeliver is the notifier's MaxDeliver: the second failed attempt dead-letters.
	maxDeliver = 2
)

// fixture is one behaviour's environment and subject, with the notifier running when the
// subject has a notify half.
type fixture struct {
	Env
	s       Subject
	metrics *prometheus.Registry
}

// env is an Env whose HTTP server is not started yet: start serves a handler on it.
type env struct {
	Env
	srv *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js := natstest.Single(t)
	_, jsc := js.Connect(t)
	st, err := store.Open(context.Background(), jsc)
	if err != nil {
		t.Fatal(err)
	}
	// No groups: who may answer follows from each request's assignees and approvers.
	routes, err := routing.New(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	return &env{srv: srv, Env: Env{Store: st, Routes: routes, LinkSecret: []byte(linkSecret),
		PublicURL: "http://" + srv.Listener.Addr().String(), Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}}
}

// setup builds a subject on a fresh environment, serves its answer handler and runs the
// notifier over its notify half.
func setup(t *testing.T, newSubject func(t *testing.T, env Env) Subject) *fixture {
	t.Helper()
	e := newEnv(t)
	s := newSubject(t, e.Env)
	if err := s.check(); err != nil {
		t.Fatalf("surfacetest: %v", err)
	}
	e.srv.Config.Handler = http.NotFoundHandler()
	if s.Answer != nil {
		e.srv.Config.Handler = s.Answer.Handler
	}
	e.srv.Start()
	f := &fixture{Env: e.Env, s: s, metrics: prometheus.NewRegistry()}
	if s.Notify == nil {
		return f
	}
	cfg := notify.Config{Store: e.Store, Routes: e.Routes, LinkSecret: e.LinkSecret, PublicURL: e.PublicURL,
		MaxDeliver: maxDeliver, Logger: e.Logger, Metrics: metrics.New(f.metrics)}
	if s.Notify.Observer {
		cfg.Observers = []notify.Channel{s.Notify.Channel}
	} else {
		cfg.Channels = []notify.Channel{s.Notify.Channel}
	}
	n, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// WaitFor waits until cond holds, for at most 20 seconds, checking every 20 ms; then it
// fails the test, naming what it waited for. Subjects use it to wait for what a surface
// shows.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testWriter sends logs to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
