// Package slack is the Slack surface, both halves: the channel that asks (Channel, run by
// the notifier) and the handler of POST /slack/interactions that takes the answers
// (Handler, served by the responder).
//
// # Asking
//
// Channel posts each request to a channel ("slack:#ops") or a person ("slack:@U0123ABCD",
// in the app's direct messages) as a Block Kit message, and edits that message when the
// request resolves, wherever it was answered, to show the outcome, who answered and when,
// with the buttons gone.
//
// Approvals, booleans and selects get one button per choice; every other type (and
// free-form extras such as a comment on a rejection) gets an "Answer…" button that opens a
// modal. The buttons' action_ids carry the request id (ActionID), so the interactions
// handler needs no state of its own.
//
// Errors follow notify.Channel: Slack errors no retry can fix (channel_not_found,
// not_in_channel, invalid_auth, invalid_blocks, ...) wrap notify.ErrPermanent; rate limits
// (HTTP 429, "ratelimited") are retried after Slack's Retry-After (notify.RetryAfter); 5xx
// and network errors are retried with backoff.
//
// # Answering
//
// Handler receives button clicks (block_actions) and modal submissions (view_submission).
// Every request is checked before anything else is read: X-Slack-Request-Timestamp within
// five minutes of now and X-Slack-Signature, "v0=" + hex HMAC-SHA256 of
// "v0:{timestamp}:{raw body}" keyed with the app's signing secret; anything else gets 401.
//
// The person who clicked answers as "slack:@<user id>"; the channel the click came from,
// "slack:#<name>" and "slack:#<id>", is a second identity, so a request assigned to
// slack:#ops may be answered by anyone in #ops. routing.Routes.Allows decides. Answers go
// through store.CheckAnswer and the first-wins gate (store.Respond), as on the REST API.
// People who may not answer, and clicks after the request resolved, get a polite reply only
// they see. The message itself is edited by the notifier when the request resolves
// (Channel.Update), so it changes the same way whichever surface answered.
//
// Slack waits three seconds for an answer: the handler does its work within
// HandlerConfig.Budget and then answers 200 (with the modal's field errors, for a
// submission that fails).
package slack
