package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/internal/slackfake"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/slack"
)

// placeholder in a fuzzed payload stands for the id of a pending request, so that the
// fuzzer's clicks and submissions can land on one.
const placeholder = "REQUEST_ID_PLACEHOLDER_0000000000000"

var interactionSpecs = []input.Spec{
	{Type: input.Approval, RequireCommentOnReject: true},
	{Type: input.Boolean, Skippable: true},
	{Type: input.Select, Options: []input.Option{{ID: "original"}, {ID: "store_credit"}}, AllowCustom: true},
	{Type: input.Number, Integer: true},
	{Type: input.Form, Fields: []input.Field{{ID: "n", Type: input.FieldNumber, Required: true}, {ID: "s", Type: input.FieldString}}},
}

// FuzzInteractions posts signed interactions (button clicks, modal submissions, anything
// else) to the interactions handler on a real server over an embedded JetStream (started
// once). Only slack:@U0ALICE may answer the requests. Every interaction is answered 200 or
// 400, never a 5xx; a request resolves only from alice, recorded as her, with a valid
// answer; nothing else changes it.
func FuzzInteractions(f *testing.F) {
	env := natstest.Single(f)
	_, js := env.Connect(f)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		f.Fatal(err)
	}
	// Slack's replies to what a click may call: views.open, chat.postEphemeral and the
	// response_url. (The fake Slack records every call, which a long run would pile up.)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	f.Cleanup(api.Close)
	ch, err := slack.New(slack.Config{BotToken: botToken, APIURL: api.URL + "/api/"})
	if err != nil {
		f.Fatal(err)
	}
	routes, err := routing.New([]string{"slack"}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	h, err := slack.NewHandler(slack.HandlerConfig{Store: st, SigningSecret: signingSecret, API: ch.API(),
		Routes: func() *routing.Routes { return routes }})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(h)
	f.Cleanup(srv.Close)

	click := func(user, channel, choice, value string) string {
		return `{"type":"block_actions","user":{"id":"` + user + `","username":"x","team_id":"T0FAKE"},"api_app_id":"A0FAKE",` +
			`"container":{"type":"message","message_ts":"1700000000.000100","channel_id":"` + channel + `"},"trigger_id":"1700000000.1.abc",` +
			`"team":{"id":"T0FAKE","domain":"fake"},"channel":{"id":"` + channel + `","name":"ops"},"state":{"values":{}},"response_url":"",` +
			`"actions":[{"type":"button","action_id":"` + slack.ActionID(placeholder, choice) + `","block_id":"hitl.actions","value":` + value + `,"action_ts":"1700000001.000001"}]}`
	}
	submit := func(user, values string) string {
		return `{"type":"view_submission","team":{"id":"T0FAKE"},"user":{"id":"` + user + `"},"trigger_id":"t","view":{"id":"V0001","type":"modal",` +
			`"callback_id":"hitl.answer","private_metadata":"{\"request_id\":\"` + placeholder + `\",\"channel_id\":\"C0OPS\",\"channel_name\":\"ops\"}",` +
			`"state":{"values":` + values + `}},"response_urls":[]}`
	}
	for i, p := range []string{
		click("U0ALICE", "C0OPS", slack.ChoiceApprove, `"approve"`),
		click("U0ALICE", "D0ALICE", slack.ChoiceYes, `"true"`),
		click("U0ALICE", "C0OPS", slack.ChoiceOption+"1", `"store_credit"`),
		click("U0MALLORY", "C0OPS", slack.ChoiceReject, `"reject"`),
		click("U0ALICE", "C0OPS", slack.ChoiceForm, `"form"`),
		submit("U0ALICE", `{"hitl.answer":{"value":{"type":"radio_buttons","selected_option":{"value":"reject"}}},"hitl.comment":{"value":{"type":"plain_text_input","value":"too risky"}}}`),
		submit("U0ALICE", `{"hitl.answer":{"value":{"type":"radio_buttons","selected_option":{"value":"true"}}}}`),
		submit("U0ALICE", `{"hitl.custom":{"value":{"type":"plain_text_input","value":"typed"}}}`),
		submit("U0ALICE", `{"hitl.answer":{"value":{"type":"number_input","value":"12"}}}`),
		submit("U0MALLORY", `{"hitl.field.0":{"value":{"type":"number_input","value":"1e3"}},"hitl.field.1":{"value":{"type":"plain_text_input","value":"x"}}}`),
		`{"type":"view_closed","user":{"id":"U0ALICE"}}`, `{}`, `[]`,
	} {
		f.Add(uint8(i), []byte(p))
	}
	pending := make([]string, len(interactionSpecs))
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		i := int(which) % len(interactionSpecs)
		ctx := context.Background()
		if pending[i] == "" {
			r := &events.Request{ID: uuid.NewString(), Title: "Fuzz", Input: interactionSpecs[i], Assignees: []string{"slack:@U0ALICE"}}
			if err := st.CreateRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			pending[i] = r.ID
		}
		id := pending[i]
		payload = bytes.ReplaceAll(payload, []byte(placeholder), []byte(id))
		// Replies to the person go to the stand-in for Slack, whatever the payload says.
		var obj map[string]any
		d := json.NewDecoder(bytes.NewReader(payload))
		d.UseNumber()
		if d.Decode(&obj) == nil && obj != nil {
			obj["response_url"] = api.URL + "/hook"
			payload, _ = json.Marshal(obj)
		}
		body := []byte(url.Values{"payload": {string(payload)}}.Encode())
		res, err := http.DefaultClient.Do(slackfake.SignedRequest(ctx, srv.URL+slack.Path, signingSecret, body, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadRequest {
			t.Fatalf("payload %s: %d", payload, res.StatusCode)
		}
		got, _, err := st.Request(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Resolved() {
			return
		}
		pending[i] = ""
		var ic struct{ User struct{ ID string } }
		if res.StatusCode != http.StatusOK || json.Unmarshal(payload, &ic) != nil {
			t.Fatalf("resolved by %s (%d): %+v", payload, res.StatusCode, got.Response)
		}
		if ic.User.ID != "U0ALICE" || !strings.EqualFold(got.Response.Responder, "slack:@U0ALICE") {
			t.Fatalf("%q answered a request only slack:@U0ALICE may answer, recorded as %q: %s", ic.User.ID, got.Response.Responder, payload)
		}
		if err := got.Input.Validate(got.Response.Data); err != nil {
			t.Fatalf("recorded an invalid answer %s: %v", got.Response.Data, err)
		}
	})
}
