package slackfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// User is a Slack user who clicks and submits.
type User struct {
	ID   string // "U…"
	Name string // handle
}

// Interaction is one interaction payload as Slack sends it to an app's request URL.
type Interaction struct {
	// Payload is the JSON object; tests may change it before sending.
	Payload map[string]any
	// TriggerID opens a modal, for TriggerTTL. ResponseURL answers the user (block_actions).
	TriggerID, ResponseURL string
}

// Body is the request body: payload=<url-encoded JSON>, form-encoded.
func (i Interaction) Body() []byte {
	b, _ := json.Marshal(i.Payload)
	return []byte(url.Values{"payload": {string(b)}}.Encode())
}

// Signature is Slack's v0 request signature: "v0=" + hex HMAC-SHA256 of
// "v0:{timestamp}:{body}" keyed with the signing secret.
func Signature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", timestamp)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// SignedRequest builds the POST Slack makes to an app: body at target, signed with secret
// at time at (use an old time for a stale request).
func SignedRequest(ctx context.Context, target, secret string, body []byte, at time.Time) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", Signature(secret, ts, body))
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	return req
}

// Request is SignedRequest of the interaction, signed now.
func (i Interaction) Request(ctx context.Context, target, secret string) *http.Request {
	return SignedRequest(ctx, target, secret, i.Body(), time.Now())
}

// newTrigger issues a trigger_id for user; s.mu is held.
func (s *Server) newTrigger(user string) string {
	s.seq++
	id := fmt.Sprintf("%d.%d.%x", time.Now().Unix(), s.seq, sha256.Sum256([]byte(user+strconv.Itoa(s.seq))))[:40]
	s.triggers[id] = trigger{user: user, expires: time.Now().Add(s.TriggerTTL)}
	return id
}

func userObj(u User) obj {
	return obj{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": TeamID}
}

// Click builds the block_actions payload of u clicking, in the message at channel and ts as
// it now stands, the button whose visible text is label (or whose action_id is label).
func (s *Server) Click(channel, ts string, u User, label string) (Interaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[channel+"/"+ts]
	if !ok {
		return Interaction{}, fmt.Errorf("no message %s/%s", channel, ts)
	}
	var blocks []map[string]any
	_ = json.Unmarshal(m.Blocks, &blocks)
	var button map[string]any
	var blockID string
	var labels []string
	for _, b := range blocks {
		if str(b, "type") != "actions" {
			continue
		}
		els, _ := b["elements"].([]any)
		for _, e := range els {
			el, _ := e.(map[string]any)
			if str(el, "type") != "button" {
				continue
			}
			text, _ := el["text"].(map[string]any)
			labels = append(labels, str(text, "text"))
			if str(text, "text") == label || str(el, "action_id") == label {
				button, blockID = el, str(b, "block_id")
			}
		}
	}
	if button == nil {
		return Interaction{}, fmt.Errorf("no button %q in message %s/%s (buttons: %q)", label, channel, ts, labels)
	}
	action := obj{}
	for k, v := range button {
		action[k] = v
	}
	action["block_id"] = blockID
	action["action_ts"] = fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seq)
	name := s.names[channel]
	if strings.HasPrefix(channel, "D") {
		name = "directmessage"
	}
	tid := s.newTrigger(u.ID)
	rurl := s.newHook(channel, u.ID)
	p := obj{
		"type":                  "block_actions",
		"user":                  userObj(u),
		"api_app_id":            AppID,
		"token":                 "fake-verification-token",
		"container":             obj{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id":            tid,
		"team":                  obj{"id": TeamID, "domain": TeamName},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               obj{"id": channel, "name": name},
		"message":               wireMessage(m),
		"state":                 obj{"values": obj{}},
		"response_url":          rurl,
		"actions":               []any{action},
	}
	return Interaction{Payload: p, TriggerID: tid, ResponseURL: rurl}, nil
}

// Submit builds the view_submission payload of u submitting the modal viewID with values:
// for each input block id, what the person entered: the text typed (a number as text), or
// the value or visible text of each option picked. Blocks not in values are left empty; an
// empty block that is not optional is refused, as Slack's client refuses to submit it.
func (s *Server) Submit(viewID string, u User, values map[string][]string) (Interaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[viewID]
	if !ok {
		return Interaction{}, fmt.Errorf("no view %s", viewID)
	}
	var view map[string]any
	_ = json.Unmarshal(v.View, &view)
	raw, _ := json.Marshal(view["blocks"])
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	state := obj{}
	used := map[string]bool{}
	for _, b := range blocks {
		if str(b, "type") != "input" {
			continue
		}
		bid := str(b, "block_id")
		el, _ := b["element"].(map[string]any)
		given, has := values[bid]
		used[bid] = true
		if (!has || len(given) == 0 || given[0] == "") && b["optional"] != true {
			return Interaction{}, fmt.Errorf("block %q is required (Slack's client would not submit)", bid)
		}
		st, err := elementState(el, given)
		if err != nil {
			return Interaction{}, fmt.Errorf("block %q: %w", bid, err)
		}
		state[bid] = obj{str(el, "action_id"): st}
	}
	for bid := range values {
		if !used[bid] {
			return Interaction{}, fmt.Errorf("the view has no input block %q", bid)
		}
	}
	view["state"] = obj{"values": state}
	tid := s.newTrigger(u.ID)
	p := obj{
		"type":                  "view_submission",
		"team":                  obj{"id": TeamID, "domain": TeamName},
		"user":                  userObj(u),
		"api_app_id":            AppID,
		"token":                 "fake-verification-token",
		"trigger_id":            tid,
		"view":                  view,
		"response_urls":         []any{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	return Interaction{Payload: p, TriggerID: tid}, nil
}

// elementState is what Slack puts in view.state.values for an element given the entries.
func elementState(el map[string]any, given []string) (obj, error) {
	t := str(el, "type")
	switch t {
	case "plain_text_input", "number_input":
		if len(given) > 1 {
			return nil, fmt.Errorf("%s takes one value", t)
		}
		if len(given) == 0 || given[0] == "" {
			return obj{"type": t, "value": nil}, nil
		}
		return obj{"type": t, "value": given[0]}, nil
	case "static_select", "radio_buttons":
		if len(given) > 1 {
			return nil, fmt.Errorf("%s takes one option", t)
		}
		if len(given) == 0 || given[0] == "" {
			return obj{"type": t, "selected_option": nil}, nil
		}
		o, err := findOption(el, given[0])
		if err != nil {
			return nil, err
		}
		return obj{"type": t, "selected_option": o}, nil
	case "multi_static_select", "checkboxes":
		picked := []any{}
		for _, g := range given {
			if g == "" {
				continue
			}
			o, err := findOption(el, g)
			if err != nil {
				return nil, err
			}
			picked = append(picked, o)
		}
		return obj{"type": t, "selected_options": picked}, nil
	}
	return nil, fmt.Errorf("element type %q is not supported by the fake", t)
}

func findOption(el map[string]any, want string) (map[string]any, error) {
	opts, _ := el["options"].([]any)
	var have []string
	for _, o := range opts {
		m, _ := o.(map[string]any)
		text, _ := m["text"].(map[string]any)
		if str(m, "value") == want || str(text, "text") == want {
			return m, nil
		}
		have = append(have, str(text, "text"))
	}
	return nil, fmt.Errorf("no option %q (options: %q)", want, have)
}
