package slack

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/hitl-dev/hitl/notify"
)

// transient are the Slack error codes that a later attempt can get past. Slack documents
// every other code as a problem with the call, the token or the workspace (channel_not_found,
// not_in_channel, invalid_auth, missing_scope, invalid_blocks, is_archived, ...), which a
// retry only repeats: those are permanent.
var transient = map[string]bool{
	"ratelimited":         true,
	"rate_limited":        true,
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
	"team_added_to_org":   true, // a workspace migration in progress
}

// classify turns a Web API error into the notifier's terms: ErrPermanent, a retry after
// Slack's Retry-After, or a plain error (retried with backoff).
func classify(method string, err error) error {
	var se slackgo.SlackErrorResponse
	var rl *slackgo.RateLimitedError
	var sc slackgo.StatusCodeError
	switch {
	case errors.As(err, &rl):
		return notify.RetryAfter(max(rl.RetryAfter, time.Second), fmt.Errorf("slack %s: rate limited: %w", method, err))
	case errors.As(err, &se):
		if transient[se.Err] {
			return fmt.Errorf("slack %s: %s", method, se.Err)
		}
		return fmt.Errorf("%w: slack %s: %s%s", notify.ErrPermanent, method, se.Err, hint(se.Err))
	case errors.As(err, &sc):
		if sc.Code == http.StatusTooManyRequests || sc.Code >= 500 {
			return fmt.Errorf("slack %s: %w", method, err)
		}
		return fmt.Errorf("%w: slack %s: %w", notify.ErrPermanent, method, err)
	}
	return fmt.Errorf("slack %s: %w", method, err) // the network: retry
}

// hint says what to do about the permanent errors people meet while setting up.
func hint(code string) string {
	switch code {
	case "channel_not_found":
		return " (no such channel, or a private channel the app is not in: /invite the app)"
	case "not_in_channel":
		return " (invite the app to the channel, or add the chat:write.public scope)"
	case "invalid_auth", "not_authed", "token_revoked", "account_inactive":
		return " (check HITL_SLACK_BOT_TOKEN)"
	case "missing_scope":
		return " (add the scopes of deploy/slack/manifest.yaml and reinstall the app)"
	}
	return ""
}
