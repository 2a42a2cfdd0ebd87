package telegramfake

import (
	"bytes"
	"context"
	"net/http"
)

// SecretHeader carries the secret_token given to setWebhook on every webhook request.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookRequest builds the POST Telegram makes to a bot's webhook: body (an Update's JSON)
// as application/json, with the secret header when secret is not "" (Telegram sends none
// when setWebhook was given no secret_token).
func WebhookRequest(ctx context.Context, target, secret string, body []byte) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	return req
}

// Request is WebhookRequest of the update.
func (u Update) Request(ctx context.Context, target, secret string) *http.Request {
	return WebhookRequest(ctx, target, secret, u.Body())
}
