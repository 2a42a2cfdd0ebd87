// Package webhook is the webhook surface: it delivers requests to HTTP endpoints as
// CloudEvents (structured JSON), signed per the Standard Webhooks spec: webhook-id,
// webhook-timestamp and webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>").
// Callbacks posts the resolved event of standalone requests to their callback_url, signed
// the same way with a secret of its own (never the bots').
//
// Both reach public unicast addresses only, unless an allow-list (Config.AllowPrivate)
// opens more: the default client checks each resolved address as it dials (package
// internal/egress), so DNS rebinding cannot reach loopback, private ranges or the cloud
// metadata address, and it ignores proxy variables and redirects.
//
// Its answering half is the REST API (package respond): the request_info event's data
// carries a respond_url with a signed, request-bound token, so a bot can answer without
// other credentials:
//
//	curl -X POST "$respond_url" -H 'Content-Type: application/json' -d '{"data": {"approved": true}}'
package webhook
