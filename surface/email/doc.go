// Package email is the email surface, both halves: the channel that asks (Channel, run by
// the notifier) and the pages behind its action links that take the answers (Links, GET
// and POST /email/act, served by the responder).
//
// # Asking
//
// Channel reaches assignees "email:a@b.c" over SMTP (go-mail; STARTTLS, implicit TLS and
// AUTH from the SMTP URL) with one message per recipient, in HTML and plain text, and a
// short follow-up once the request is resolved.
//
// Approvals, booleans and selects carry one link per answer ("Approve" / "Reject", "Yes" /
// "No", one per option); other types link to the web form at /inbox/requests/{id}. Every
// link holds a token signed with the link secret (internal/linktoken), bound to the request,
// the recipient ("email:a@b.c") and, for an answer link, the option; it expires with the
// request's deadline, else after 7 days.
//
// Errors follow notify.Channel: a 5xx reply (an unknown mailbox) is notify.ErrPermanent and
// dead-lettered at once; 4xx replies and network errors are retried.
//
// # Answering
//
// Links serves the page behind "Approve", "Reject", "Yes", "No" or a select option. A GET
// decides nothing: mail scanners and link previews open links before people do, so the GET
// only shows a confirmation page (what is about to be answered, an optional comment and one
// button). Only the POST of that page answers: the link's token must verify (HMAC-signed,
// unexpired, bound to the request, the recipient and the option), the recipient must be
// allowed to answer (routing.Routes.Allows), the answer must pass store.CheckAnswer, and it
// goes through the first-wins gate (store.Respond). Once the request is resolved, any of its
// links shows the outcome instead. Pages are plain HTML with no JavaScript.
package email
