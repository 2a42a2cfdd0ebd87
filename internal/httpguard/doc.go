// Package httpguard refuses, in front of every hitl HTTP server, the requests a web page in
// someone's browser can be made to send: state-changing requests from another site
// (cross-site request forgery), JSON API calls in a content type a plain HTML form or
// fetch can send without a CORS preflight, and, where the server is reachable only from
// the machine or serves without tokens, requests addressed to a foreign host name (DNS
// rebinding). Callers that are not browsers (curl, SDKs, Slack's and Telegram's servers)
// send none of the headers it looks at and pass.
//
// server wraps every role's HTTP server in one Guard (server/run.go); the README's
// "Security defaults" and docs/design.md say what it refuses and why.
package httpguard
