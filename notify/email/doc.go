// Package email is the email channel: it reaches assignees "email:a@b.c" over SMTP (go-mail;
// STARTTLS, implicit TLS and AUTH from the SMTP URL) with one message per recipient, in
// HTML and plain text, and a short follow-up once the request is resolved.
//
// Approvals, booleans and selects carry one link per answer ("Approve" / "Reject", "Yes" /
// "No", one per option); other types link to the web form at /inbox/requests/{id}. Every
// link holds a token signed with the link secret (internal/linktoken), bound to the request,
// the recipient ("email:a@b.c") and, for an answer link, the option; it expires with the
// request's deadline, else after 7 days. The links lead to package emaillinks, whose GET
// only shows a confirmation page, because mail scanners open links; only the POST of that
// page decides.
//
// Errors follow notify.Channel: a 5xx reply (an unknown mailbox) is notify.ErrPermanent and
// dead-lettered at once; 4xx replies and network errors are retried.
package email
