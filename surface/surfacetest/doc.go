// Package surfacetest is the conformance suite every surface passes, both of its halves, on
// a real embedded JetStream with the real store, the real notifier and the surface's real
// HTTP handlers behind a real HTTP server.
//
// A surface under test is a Subject: its notify half (a notify.Channel, or an observer such
// as the console) and its answer half (its HTTP handlers and a way to answer through them
// as a given person). Either half may be absent, the web inbox has no channel of its own
// and the console takes no answers, and so may any single behaviour that does not apply to
// a surface: the subject then names the behaviour in Subject.Skip with the reason, and the
// suite reports it skipped with that reason. Nothing is skipped silently.
//
// The notify half must:
//   - Delivers: show a request to its recipient and record the delivery;
//   - IdempotentOnRedelivery: show it once, although request_info comes again (counted
//     once the notifier has acknowledged the second copy, not after a pause);
//   - UpdatesOnResolution: show the outcome once when the request resolves;
//   - ReportsFailedDelivery: retry a delivery that fails with an error worth retrying up to
//     the last attempt (hitl_notifications_total counts each failure), then record a dead
//     letter with a reason.
//
// The surface as a whole must pass RejectsBadConfiguration: each bad configuration of its
// channel or its handlers (Subject.BadConfigs) is refused with an error.
//
// The answer half must, with requests whose approvers are the subject's two allowed
// identities:
//   - AnswerAcceptedOnce: accept an allowed identity's answer, which the request record
//     then holds with that identity as the responder and which is the one message on the
//     request's gate subject (hitl.response.<id>); and accept no second answer, by the same
//     identity or the other allowed one, prepared before the first was sent: the record
//     and the gate stay as they were;
//   - RefusedIdentityChangesNothing: refuse an identity the request reached but that is
//     no approver, leaving the record pending and the gate empty, after which an allowed
//     identity still answers;
//   - ConcurrentAnswersAcceptOne: of both allowed identities answering at once, accept
//     exactly one;
//   - LateAnswerIsGone: once an answered request has been removed after its retention (1 s
//     here), refuse an answer prepared before, saying the request is gone (410, or words
//     saying it was removed), and leave the gate empty: nothing is recorded, nothing resumes.
//
// Answers go through the surface's own wire path: a signed Slack interaction, an email's
// option link and its confirmation form, the web inbox's page and form with its CSRF token,
// a webhook bot's respond_url, a Telegram callback query. The subject prepares each answer
// the way a person gets ready to answer (the message with its buttons arrives, the page
// with its form opens) and the suite decides when it is sent, so that a second answer can
// come from a page opened before the first was recorded.
//
// Channels written outside this module that have only a notify half can keep using
// notify/notifytest, which runs this suite.
package surfacetest
