// Package emaillinks serves the action links of emails (GET and POST /email/act): the page
// behind "Approve", "Reject", "Yes", "No" or a select option.
//
// A GET decides nothing: mail scanners and link previews open links before people do, so
// the GET only shows a confirmation page (what is about to be answered, an optional comment
// and one button). Only the POST of that page answers: the link's token must verify
// (HMAC-signed, unexpired, bound to the request, the recipient and the option), the
// recipient must be allowed to answer (routing.Routes.Allows), the answer must pass
// store.CheckAnswer, and it goes through the first-wins gate (store.Respond). Once the
// request is resolved, any of its links shows the outcome instead. Pages are plain HTML
// with no JavaScript.
package emaillinks
