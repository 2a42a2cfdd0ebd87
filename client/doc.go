// Package client is a small Go client for hitl's REST API: create, read, await, answer and
// cancel requests, and start, read, await and cancel runs.
//
//	c, err := client.New(client.Config{URL: "http://localhost:8080", Token: os.Getenv("HITL_TOKEN")})
//	req, err := c.CreateRequest(ctx, client.NewRequest{Title: "Deploy 1.4?", Input: input.Spec{Type: input.Approval}})
//	req, err = c.Wait(ctx, req.ID, time.Hour) // until someone answers, or an hour passes
//
// Requests come back as [events.Request], the same type the services store and publish; runs
// as [Run], the JSON shape of respond.RunView. Every failure the API reports is an [*Error]
// carrying the HTTP status, the error code, the message and, for answers that fail
// validation, each failing field; match the common cases with errors.Is and the sentinels
// ([ErrNotFound], [ErrAlreadyResolved], [ErrAlreadyFinished], [ErrUnauthorized], [ErrInvalid]).
//
// A Client is safe for concurrent use.
package client
