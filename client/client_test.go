package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/respond"
)

func newClient(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: hitlURL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientRequestLifecycle(t *testing.T) {
	t.Parallel()
	c, ctx := newClient(t), ctxT(t)
	created, err := c.CreateRequest(ctx, client.NewRequest{
		Title: "How many replicas?", Message: "For **billing**.", Context: map[string]any{"service": "billing"},
		Input:   input.Spec{Type: input.Number, Integer: true, Min: new(1.0), Max: new(9.0)},
		Timeout: time.Hour, Metadata: map[string]string{"k": "v"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Status != events.StatusPending || created.Deadline == nil || time.Duration(created.Timeout) != time.Hour {
		t.Fatalf("created %+v", created)
	}
	got, err := c.Request(ctx, created.ID)
	if err != nil || got.Title != "How many replicas?" || got.Input.Type != input.Number || got.Metadata["k"] != "v" {
		t.Fatalf("Request: %+v, %v", got, err)
	}
	pending, err := c.Requests(ctx, events.StatusPending)
	if err != nil || !slices.ContainsFunc(pending, func(r *events.Request) bool { return r.ID == created.ID }) {
		t.Fatalf("Requests(pending) lacks %s: %v", created.ID, err)
	}

	// Not resolved within the timeout: Wait returns the request as it stands.
	start := time.Now()
	still, err := c.Wait(ctx, created.ID, 300*time.Millisecond)
	if err != nil || still.Resolved() || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("Wait: %v after %s, %v", still.Status, time.Since(start), err)
	}

	_, err = c.Respond(ctx, created.ID, client.Answer{Data: 12.5})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || !errors.Is(err, client.ErrInvalid) || apiErr.Code != "validation_failed" || len(apiErr.Fields) != 2 {
		t.Fatalf("invalid answer: %#v", err)
	}
	if apiErr.Fields[0].Path != "data" || !strings.Contains(err.Error(), "must be a whole number") {
		t.Fatalf("fields %+v, message %q", apiErr.Fields, err)
	}

	waited := make(chan *events.Request, 1)
	go func() {
		r, err := c.Wait(ctx, created.ID, 0)
		if err != nil {
			t.Error(err)
		}
		waited <- r
	}()
	answered, err := c.Respond(ctx, created.ID, client.Answer{Data: json.RawMessage("3"), Responder: "alice", Comment: "three"})
	if err != nil {
		t.Fatal(err)
	}
	if answered.Status != events.StatusAnswered || answered.Response.Responder != "alice" || string(answered.Response.Data) != "3" ||
		answered.Response.Comment != "three" || answered.Response.InputHash == "" {
		t.Fatalf("answered %+v %+v", answered, answered.Response)
	}
	if r := <-waited; r == nil || r.Status != events.StatusAnswered {
		t.Fatalf("Wait returned %+v", r)
	}
	if _, err := c.Respond(ctx, created.ID, client.Answer{Data: 4}); !errors.Is(err, client.ErrAlreadyResolved) {
		t.Fatalf("second answer: %v", err)
	}
	if _, err := c.Cancel(ctx, created.ID, ""); !errors.Is(err, client.ErrAlreadyResolved) {
		t.Fatalf("cancel after answer: %v", err)
	}
}

func TestClientCancelAndSkip(t *testing.T) {
	t.Parallel()
	c, ctx := newClient(t), ctxT(t)
	r1, err := c.CreateRequest(ctx, client.NewRequest{Title: "Anything to add?"}) // an approval by default
	if err != nil {
		t.Fatal(err)
	}
	if r1.Input.Type != input.Approval {
		t.Fatalf("default input %q", r1.Input.Type)
	}
	cancelled, err := c.Cancel(ctx, r1.ID, "not needed")
	if err != nil || cancelled.Status != events.StatusCancelled || cancelled.Response.Comment != "not needed" {
		t.Fatalf("Cancel: %+v, %v", cancelled, err)
	}

	r2, err := c.CreateRequest(ctx, client.NewRequest{Title: "Notes?", Input: input.Spec{Type: input.Text, Skippable: true}})
	if err != nil {
		t.Fatal(err)
	}
	skipped, err := c.Respond(ctx, r2.ID, client.Answer{Data: nil})
	if err != nil || string(skipped.Response.Data) != "null" {
		t.Fatalf("skip: %+v, %v", skipped, err)
	}
}

func TestClientRun(t *testing.T) {
	t.Parallel()
	c, ctx := newClient(t), ctxT(t)
	run, err := c.StartRun(ctx, "refund", json.RawMessage(`{"order_id": "C-1", "total": 20}`))
	if err != nil {
		t.Fatal(err)
	}
	if run.ID == "" || run.Workflow != "refund" || run.Status.Final() {
		t.Fatalf("started %+v", run)
	}
	run, err = c.WaitRun(ctx, run.ID, 10*time.Second)
	if err != nil || run.Status != events.RunWaiting || len(run.Pending) != 1 {
		t.Fatalf("WaitRun: %+v, %v", run, err)
	}
	got, err := c.Run(ctx, run.ID)
	if err != nil || got.Pending[0].ID != run.Pending[0].ID || got.Steps < 1 || got.CreatedAt.IsZero() {
		t.Fatalf("Run: %+v, %v", got, err)
	}
	question := run.Pending[0].ID
	if err := c.CancelRun(ctx, run.ID, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	run, err = c.WaitRunDone(ctx, run.ID, 10*time.Second)
	if err != nil || run.Status != events.RunCancelled || run.Error != "cancelled: changed my mind" {
		t.Fatalf("after cancel: %+v, %v", run, err)
	}
	if q, err := c.Wait(ctx, question, 10*time.Second); err != nil || q.Status != events.StatusCancelled {
		t.Fatalf("the run's question after cancel: %+v, %v", q, err)
	}
	if err := c.CancelRun(ctx, run.ID, ""); !errors.Is(err, client.ErrAlreadyFinished) {
		t.Fatalf("second cancel: %v", err)
	}
	if _, err := c.StartRun(ctx, "no such workflow", nil); !errors.Is(err, client.ErrInvalid) || !strings.Contains(err.Error(), "workflow: is not a valid workflow name") {
		t.Fatalf("invalid workflow name: %v", err)
	}
	queued, err := c.StartRun(ctx, "hosted-nowhere", nil)
	if err != nil || queued.Status != events.RunQueued {
		t.Fatalf("a valid name no orchestrator hosts: %+v, %v", queued, err)
	}
	if err := c.CancelRun(ctx, queued.ID, ""); err != nil {
		t.Fatal(err)
	}
	if queued, err = c.WaitRunDone(ctx, queued.ID, 10*time.Second); err != nil || queued.Status != events.RunCancelled {
		t.Fatalf("a queued run, cancelled: %+v, %v", queued, err)
	}
	if _, err := c.Run(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
}

// WaitRunDone waits through the questions a run asks until it ends.
func TestClientWaitRunDone(t *testing.T) {
	t.Parallel()
	c, ctx := newClient(t), ctxT(t)
	run, err := c.StartRun(ctx, "refund", map[string]string{"order_id": "D-1"})
	if err != nil {
		t.Fatal(err)
	}
	if still, err := c.WaitRunDone(ctx, run.ID, 300*time.Millisecond); err != nil || still.Status.Final() {
		t.Fatalf("WaitRunDone before any answer: %+v, %v", still, err)
	}
	done := make(chan *client.Run, 1)
	go func() {
		r, err := c.WaitRunDone(ctx, run.ID, 0)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	for _, answer := range []any{"approve", "bank", []string{"sms"}, input.ApprovalAnswer{Approved: true}} {
		r, err := c.WaitRun(ctx, run.ID, 10*time.Second)
		if err != nil || len(r.Pending) != 1 {
			t.Fatalf("WaitRun: %+v, %v", r, err)
		}
		if _, err := c.Respond(ctx, r.Pending[0].ID, client.Answer{Data: answer}); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	if r == nil || r.Status != events.RunCompleted || !strings.Contains(string(r.Result), `"status":"refunded"`) {
		t.Fatalf("WaitRunDone: %+v", r)
	}
}

func TestClientWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	req, err := c.CreateRequest(ctxT(t), client.NewRequest{Title: "Never answered"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Wait(ctx, req.ID, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past its context: %v", err)
	}
}

func TestClientErrorIs(t *testing.T) {
	sentinels := []error{client.ErrNotFound, client.ErrAlreadyResolved, client.ErrAlreadyFinished, client.ErrUnauthorized, client.ErrInvalid}
	for _, tt := range []struct {
		err  *client.Error
		want error
	}{
		{&client.Error{Status: 404, Code: "not_found"}, client.ErrNotFound},
		{&client.Error{Status: 409, Code: "already_resolved"}, client.ErrAlreadyResolved},
		{&client.Error{Status: 409, Code: "already_finished"}, client.ErrAlreadyFinished},
		{&client.Error{Status: 401, Code: "unauthorized"}, client.ErrUnauthorized},
		{&client.Error{Status: 400, Code: "invalid_json"}, client.ErrInvalid},
		{&client.Error{Status: 400, Code: "validation_failed"}, client.ErrInvalid},
		{&client.Error{Status: 503, Code: "unavailable"}, nil},
	} {
		for _, s := range sentinels {
			if got := errors.Is(tt.err, s); got != (s == tt.want) {
				t.Errorf("errors.Is(%d %s, %v) = %v", tt.err.Status, tt.err.Code, s, got)
			}
		}
	}
	e := &client.Error{Status: 400, Code: "validation_failed", Message: "the answer does not match",
		Fields: []input.FieldError{{Path: "data.a", Message: "is required"}, {Path: "data.b", Message: "must be a number"}}}
	if got, want := e.Error(), "the answer does not match: data.a: is required; data.b: must be a number"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// A proxy's error page, not hitl's error JSON, still comes back as an *Error with the status.
func TestClientNonJSONError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
	}))
	defer srv.Close()
	c, err := client.New(client.Config{URL: srv.URL + "/", Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Requests(ctxT(t), "")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Code != "" || apiErr.Message != "HTTP 502: Bad Gateway" {
		t.Fatalf("got %#v", err)
	}
}

func TestClientNewChecksURL(t *testing.T) {
	for _, u := range []string{"localhost:8080", "ftp://x", "http://", "://"} {
		if _, err := client.New(client.Config{URL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := client.New(client.Config{})
	if err != nil || c.URL() != client.DefaultURL {
		t.Fatalf("default: %v, %v", c, err)
	}
	if _, err := c.Request(context.Background(), ""); err == nil {
		t.Fatal("empty id accepted")
	}
}

// client.Run must read every field respond.RunView writes.
func TestClientRunMatchesRunView(t *testing.T) {
	names := func(t reflect.Type) []string {
		var out []string
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			out = append(out, tag+" "+t.Field(i).Type.String())
		}
		slices.Sort(out)
		return out
	}
	api, ours := names(reflect.TypeFor[respond.RunView]()), names(reflect.TypeFor[client.Run]())
	if !slices.Equal(api, ours) {
		t.Fatalf("respond.RunView %v\nclient.Run       %v", api, ours)
	}
}

// The pagers follow the cursors to the end, in order; a bad cursor is ErrInvalid naming it.
func TestClientPagers(t *testing.T) {
	t.Parallel()
	c, ctx := newClient(t), ctxT(t)
	who := "pager-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")
	var want []string
	for range 12 {
		r, err := c.CreateRequest(ctx, client.NewRequest{Title: "Page me " + who})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.ID)
	}
	p := c.RequestPager(client.ListOptions{Status: "pending", Query: "ME " + strings.ToUpper(who), Limit: 5})
	var got []string
	for pages := 0; p.More(); pages++ {
		if pages > 50 {
			t.Fatal("the pager does not end")
		}
		page, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 5 {
			t.Fatalf("a page of %d", len(page))
		}
		for _, r := range page {
			got = append(got, r.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v, want %v", got, want)
	}
	if _, err := p.Next(ctx); !errors.Is(err, client.ErrPagerDone) {
		t.Fatalf("Next after the end: %v", err)
	}
	newest, err := c.ListRequests(ctx, client.ListOptions{Query: who, Newest: true, Limit: 2})
	if err != nil || len(newest.Requests) != 2 || newest.Requests[0].ID != want[11] || newest.NextCursor == "" {
		t.Fatalf("newest first: %+v, %v", newest, err)
	}
	_, err = c.ListRequests(ctx, client.ListOptions{Query: who, Cursor: newest.NextCursor})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || !errors.Is(err, client.ErrInvalid) || len(apiErr.Fields) != 1 || apiErr.Fields[0].Path != "cursor" {
		t.Fatalf("a cursor of another order: %#v", err)
	}

	wf := "pager-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")
	var runs []string
	for range 3 {
		r, err := c.StartRun(ctx, wf, nil)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r.ID)
	}
	rp := c.RunPager(client.RunListOptions{Workflow: wf, Limit: 2})
	got = nil
	for rp.More() {
		page, err := rp.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			if r.Workflow != wf {
				t.Fatalf("run of %s in the listing of %s", r.Workflow, wf)
			}
			got = append(got, r.ID)
		}
	}
	if !slices.Equal(got, runs) {
		t.Fatalf("runs paged %v, want %v", got, runs)
	}
}
