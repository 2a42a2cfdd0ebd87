// Package web is the web surface, the inbox: HTML pages, served by the responder, where
// people see the requests waiting for them and answer them with a plain form. It needs no
// JavaScript. It has no channel of its own: it is the answering half that other surfaces'
// links lead to (an email's "Answer in your browser").
//
// Pages (all under /inbox):
//
//	GET  /inbox                    the pending requests the viewer may answer
//	GET  /inbox/requests/{id}      one request: its form, or its outcome once resolved
//	POST /inbox/requests/{id}      answer it: validated, then through the first-wins gate
//	GET  /inbox/login              operators sign in with an API token
//	POST /inbox/login, /inbox/logout
//
// A viewer is known by a signed link token (?token=..., the credential in the links that
// email and other channels send: its subject, e.g. "email:a@b.c", is the identity), or is
// an operator with a session cookie from /inbox/login. Without API tokens configured
// (hitl dev) every visitor without a link is an operator. routing.Routes decides who may
// see and answer what. Every form carries a CSRF token bound to the request and to the
// link or session that showed it.
//
// Forms are rendered from the request's input spec, for every input type (types this
// version does not know get a JSON text area). A submitted form becomes the JSON answer,
// is checked with store.CheckAnswer (errors are shown beside their fields) and passed to
// store.Respond.
package web
