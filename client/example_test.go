package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/input"
)

// A standalone request: ask, answer, read the answer. In real use the answer comes from a
// person (a webhook bot, `hitl respond`, ...) while the asker waits with c.Wait.
func ExampleClient_CreateRequest() {
	ctx := context.Background()
	c, err := client.New(client.Config{URL: hitlURL}) // Token: os.Getenv("HITL_TOKEN") outside dev
	if err != nil {
		log.Fatal(err)
	}
	req, err := c.CreateRequest(ctx, client.NewRequest{
		Title:   "Deploy release 1.4 to production?",
		Context: map[string]any{"service": "billing"},
		Input:   input.Spec{Type: input.Approval},
		Timeout: 30 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(req.Status)

	_, err = c.Respond(ctx, req.ID, client.Answer{
		Data:      input.ApprovalAnswer{Approved: true, Comment: "lgtm"},
		Responder: "alice",
	})
	if err != nil {
		log.Fatal(err)
	}
	done, err := c.Wait(ctx, req.ID, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(done.Status, "by", done.Response.Responder+":", string(done.Response.Data))
	// Output:
	// pending
	// answered by alice: {"approved":true,"comment":"lgtm"}
}

// A workflow run: start it, answer what it asks, read its result.
func ExampleClient_StartRun() {
	ctx := context.Background()
	c, err := client.New(client.Config{URL: hitlURL})
	if err != nil {
		log.Fatal(err)
	}
	run, err := c.StartRun(ctx, "refund", map[string]string{"order_id": "A-1001", "reason": "never arrived"})
	if err != nil {
		log.Fatal(err)
	}
	run, err = c.WaitRun(ctx, run.ID, time.Minute) // until it asks something, or ends
	if err != nil {
		log.Fatal(err)
	}
	q := run.Pending[0]
	fmt.Println(q.Title, "-", q.Input.Type)
	if _, err := c.Respond(ctx, q.ID, client.Answer{Data: "reject", Responder: "alice"}); err != nil {
		log.Fatal(err)
	}
	run, err = c.WaitRun(ctx, run.ID, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Status, string(run.Result))
	// Output:
	// Refund decision for A-1001 - select
	// completed {"status":"rejected","order_id":"A-1001"}
}

// Errors the API reports are *client.Error: match the usual cases with errors.Is, and read
// the failing fields of a refused answer.
func ExampleClient_Respond() {
	ctx := context.Background()
	c, err := client.New(client.Config{URL: hitlURL})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Request(ctx, "6f1c2d9e-0000-4000-8000-000000000000")
	fmt.Println(errors.Is(err, client.ErrNotFound), err)

	req, err := c.CreateRequest(ctx, client.NewRequest{Title: "Which plan?", Input: input.Spec{
		Type: input.Select, Options: []input.Option{{ID: "basic", Label: "Basic"}, {ID: "pro", Label: "Pro"}}}})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Respond(ctx, req.ID, client.Answer{Data: "gold"})
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Code, errors.Is(err, client.ErrInvalid))
		for _, f := range apiErr.Fields {
			fmt.Println(f.Path+":", f.Message)
		}
	}
	// Output:
	// true request not found
	// 400 validation_failed true
	// data: "gold" is not one of the options (basic, pro)
}
