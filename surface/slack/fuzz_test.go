package slack_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/internal/slackfake"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/slack"
)

// FuzzSignature sends bodies to the interactions handler on a real server (over an embedded
// JetStream and the fake Slack, started once), signed as Slack signs them. A body signed
// with the secret within five minutes is never refused as unauthorized; changing its body,
// timestamp or signature, signing it with another secret, or signing it too long ago is
// always refused with 401.
func FuzzSignature(f *testing.F) {
	env := natstest.Single(f)
	_, js := env.Connect(f)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		f.Fatal(err)
	}
	fake := slackfake.New(f, botToken)
	ch, err := slack.New(slack.Config{BotToken: botToken, APIURL: fake.APIURL})
	if err != nil {
		f.Fatal(err)
	}
	h, err := slack.NewHandler(slack.HandlerConfig{Store: st, SigningSecret: signingSecret, API: ch.API()})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(h)
	f.Cleanup(srv.Close)
	payload := func(p string) []byte { return []byte(url.Values{"payload": {p}}.Encode()) }
	f.Add(payload(`{"type":"view_closed","user":{"id":"U0ALICE"},"view":{"callback_id":"hitl.answer"}}`), int16(0), uint8(0), []byte(" "))
	f.Add(payload(`{"type":"shortcut","user":{"id":"U0ALICE"}}`), int16(-299), uint8(1), []byte("1"))
	f.Add(payload(`{"type":"view_submission","view":{"callback_id":"other"}}`), int16(120), uint8(2), []byte("v0=00"))
	f.Add([]byte("payload=%7B%7D"), int16(301), uint8(3), []byte(signingSecret+"x"))
	f.Add([]byte(""), int16(-400), uint8(4), []byte(""))
	f.Add([]byte("not a form %zz"), int16(5), uint8(1), []byte("+1"))
	f.Fuzz(func(t *testing.T, body []byte, skew int16, what uint8, change []byte) {
		at := time.Now().Add(time.Duration(skew) * time.Second)
		ts := strconv.FormatInt(at.Unix(), 10)
		sig := slackfake.Signature(signingSecret, ts, body)
		sent, sentTS, sentSig := body, ts, sig
		changed := true
		switch what % 6 {
		case 0: // as signed
			changed = false
		case 1:
			sentTS = string(change)
			changed = strings.Trim(sentTS, " \t") != ts // HTTP drops the spaces around a header value
		case 2:
			sentSig = string(change)
			changed = strings.Trim(sentSig, " \t") != sig
		case 3:
			sentSig = slackfake.Signature(string(change), ts, body)
			changed = string(change) != signingSecret
		case 4:
			sent = append(bytes.Clone(body), change...)
			changed = len(change) > 0
		case 5:
			sentTS, sentSig = "", ""
		}
		if !headerValue(sentTS) || !headerValue(sentSig) {
			return // not a request HTTP can carry
		}
		req, err := http.NewRequest(http.MethodPost, srv.URL+slack.Path, bytes.NewReader(sent))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sentTS != "" {
			req.Header.Set("X-Slack-Request-Timestamp", sentTS)
		}
		if sentSig != "" {
			req.Header.Set("X-Slack-Signature", sentSig)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		fresh := skew > -290 && skew < 290 // five minutes either way, with room for the clock moving on
		stale := skew < -310 || skew > 310
		switch {
		case (changed || stale) && res.StatusCode != http.StatusUnauthorized:
			t.Fatalf("a changed or stale request (case %d, skew %ds) was answered %d", what%6, skew, res.StatusCode)
		case !changed && fresh && (res.StatusCode == http.StatusUnauthorized || res.StatusCode >= 500):
			t.Fatalf("a request signed %ds ago was answered %d", -skew, res.StatusCode)
		}
	})
}

// headerValue reports whether net/http sends v as a header value.
func headerValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
