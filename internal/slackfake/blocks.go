package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// checkBlocks applies Slack's Block Kit limits to a blocks array (JSON text, "" for none) on
// a surface ("message" or "modal"), as chat.postMessage and views.open do: the fake refuses
// what Slack would refuse, so a test cannot pass on a message Slack would reject.
func checkBlocks(raw, surface string) (json.RawMessage, error) {
	if raw == "" {
		return nil, nil
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, fmt.Errorf("blocks is not a JSON array of objects: %v", err)
	}
	if err := checkBlockList(blocks, surface); err != nil {
		return nil, err
	}
	return json.RawMessage(raw), nil
}

func checkBlockList(blocks []map[string]any, surface string) error {
	maxBlocks := 50
	if surface == "modal" {
		maxBlocks = 100
	}
	if len(blocks) > maxBlocks {
		return fmt.Errorf("%d blocks; a %s holds at most %d", len(blocks), surface, maxBlocks)
	}
	c := checker{blockIDs: map[string]bool{}, actionIDs: map[string]bool{}}
	for i, b := range blocks {
		if err := c.block(b, surface); err != nil {
			return fmt.Errorf("blocks[%d]: %w", i, err)
		}
	}
	return nil
}

type checker struct {
	blockIDs, actionIDs map[string]bool
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func (c *checker) block(b map[string]any, surface string) error {
	if id, ok := b["block_id"].(string); ok {
		if id == "" || utf8.RuneCountInString(id) > 255 {
			return errors.New("block_id must be 1 to 255 characters")
		}
		if c.blockIDs[id] {
			return fmt.Errorf("block_id %q is not unique", id)
		}
		c.blockIDs[id] = true
	}
	switch t := str(b, "type"); t {
	case "header":
		return textObject(b["text"], "text", 150, true)
	case "section":
		text, fields := b["text"], b["fields"]
		if text == nil && fields == nil {
			return errors.New("a section needs text or fields")
		}
		if text != nil {
			if err := textObject(text, "text", 3000, false); err != nil {
				return err
			}
		}
		if fields != nil {
			fs, ok := fields.([]any)
			if !ok || len(fs) == 0 || len(fs) > 10 {
				return errors.New("fields must hold 1 to 10 text objects")
			}
			for i, f := range fs {
				if err := textObject(f, fmt.Sprintf("fields[%d]", i), 2000, false); err != nil {
					return err
				}
			}
		}
		if acc, ok := b["accessory"].(map[string]any); ok {
			return c.element(acc, surface)
		}
		return nil
	case "context":
		els, ok := b["elements"].([]any)
		if !ok || len(els) == 0 || len(els) > 10 {
			return errors.New("a context holds 1 to 10 elements")
		}
		for i, e := range els {
			if err := textObject(e, fmt.Sprintf("elements[%d]", i), 3000, false); err != nil {
				return err
			}
		}
		return nil
	case "actions":
		els, ok := b["elements"].([]any)
		if !ok || len(els) == 0 || len(els) > 25 {
			return errors.New("an actions block holds 1 to 25 elements")
		}
		for i, e := range els {
			m, ok := e.(map[string]any)
			if !ok {
				return fmt.Errorf("elements[%d] is not an object", i)
			}
			if err := c.element(m, surface); err != nil {
				return fmt.Errorf("elements[%d]: %w", i, err)
			}
		}
		return nil
	case "divider":
		return nil
	case "input":
		if surface != "modal" {
			return errors.New("input blocks belong in modals")
		}
		if err := textObject(b["label"], "label", 2000, true); err != nil {
			return err
		}
		if h := b["hint"]; h != nil {
			if err := textObject(h, "hint", 2000, true); err != nil {
				return err
			}
		}
		el, ok := b["element"].(map[string]any)
		if !ok {
			return errors.New("an input block needs an element")
		}
		return c.element(el, surface)
	case "":
		return errors.New("a block needs a type")
	default:
		return fmt.Errorf("block type %q is not supported by the fake", t)
	}
}

func (c *checker) element(e map[string]any, surface string) error {
	t := str(e, "type")
	if id, ok := e["action_id"].(string); ok {
		if id == "" || utf8.RuneCountInString(id) > 255 {
			return errors.New("action_id must be 1 to 255 characters")
		}
		if c.actionIDs[id] && surface == "message" {
			return fmt.Errorf("action_id %q is not unique", id)
		}
		c.actionIDs[id] = true
	}
	switch t {
	case "button":
		if err := textObject(e["text"], "text", 75, true); err != nil {
			return err
		}
		if utf8.RuneCountInString(str(e, "value")) > 2000 {
			return errors.New("a button's value is at most 2000 characters")
		}
		switch str(e, "style") {
		case "", "primary", "danger":
		default:
			return fmt.Errorf("style %q is not primary or danger", str(e, "style"))
		}
		return nil
	case "plain_text_input":
		if n, ok := e["max_length"].(float64); ok && (n < 1 || n > 3000) {
			return errors.New("max_length must be 1 to 3000")
		}
		if n, ok := e["min_length"].(float64); ok && (n < 0 || n > 3000) {
			return errors.New("min_length must be 0 to 3000")
		}
		return nil
	case "number_input":
		if _, ok := e["is_decimal_allowed"].(bool); !ok {
			return errors.New("number_input needs is_decimal_allowed")
		}
		return nil
	case "static_select", "multi_static_select":
		return options(e, 100)
	case "radio_buttons", "checkboxes":
		return options(e, 10)
	default:
		return fmt.Errorf("element type %q is not supported by the fake", t)
	}
}

func options(e map[string]any, max int) error {
	opts, ok := e["options"].([]any)
	if !ok || len(opts) == 0 || len(opts) > max {
		return fmt.Errorf("%s holds 1 to %d options", str(e, "type"), max)
	}
	seen := map[string]bool{}
	for i, o := range opts {
		m, ok := o.(map[string]any)
		if !ok {
			return fmt.Errorf("options[%d] is not an object", i)
		}
		if err := textObject(m["text"], fmt.Sprintf("options[%d].text", i), 75, false); err != nil {
			return err
		}
		v := str(m, "value")
		if v == "" || utf8.RuneCountInString(v) > 150 {
			return fmt.Errorf("options[%d].value must be 1 to 150 characters", i)
		}
		if seen[v] {
			return fmt.Errorf("options[%d].value %q is not unique", i, v)
		}
		seen[v] = true
		if d := m["description"]; d != nil {
			if err := textObject(d, fmt.Sprintf("options[%d].description", i), 75, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// textObject checks a text object: plain_text (or mrkdwn unless plainOnly), 1 to max characters.
func textObject(v any, name string, max int, plainOnly bool) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s must be a text object", name)
	}
	switch str(m, "type") {
	case "plain_text":
	case "mrkdwn":
		if plainOnly {
			return fmt.Errorf("%s must be plain_text", name)
		}
	default:
		return fmt.Errorf("%s: type must be plain_text or mrkdwn", name)
	}
	n := utf8.RuneCountInString(str(m, "text"))
	if n == 0 || n > max {
		return fmt.Errorf("%s must be 1 to %d characters (got %d)", name, max, n)
	}
	return nil
}

// checkView applies views.open's limits to a modal.
func checkView(v map[string]any) error {
	if str(v, "type") != "modal" {
		return errors.New("view type must be modal")
	}
	if err := textObject(v["title"], "title", 24, true); err != nil {
		return err
	}
	for _, k := range []string{"submit", "close"} {
		if v[k] != nil {
			if err := textObject(v[k], k, 24, true); err != nil {
				return err
			}
		}
	}
	if utf8.RuneCountInString(str(v, "private_metadata")) > 3000 {
		return errors.New("private_metadata is at most 3000 characters")
	}
	raw, _ := json.Marshal(v["blocks"])
	var blocks []map[string]any
	if err := json.Unmarshal(raw, &blocks); err != nil || len(blocks) == 0 {
		return errors.New("a modal needs blocks")
	}
	hasInput := false
	for _, b := range blocks {
		hasInput = hasInput || str(b, "type") == "input"
	}
	if hasInput && v["submit"] == nil {
		return errors.New("a modal with input blocks needs a submit button")
	}
	return checkBlockList(blocks, "modal")
}

// BlockText is every text in a Block Kit array (JSON), one per line, as people read it:
// headers, sections, fields and context elements, and buttons' labels.
func BlockText(blocks json.RawMessage) string {
	var v any
	_ = json.Unmarshal(blocks, &v)
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch t := x.(type) {
		case []any:
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			if s, ok := t["text"].(string); ok && (t["type"] == "plain_text" || t["type"] == "mrkdwn") {
				out = append(out, s)
			}
			for _, k := range []string{"text", "fields", "elements", "label", "element", "options", "hint"} {
				if e, ok := t[k]; ok {
					walk(e)
				}
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

// Buttons lists the labels of the buttons in a Block Kit array (JSON), in order.
func Buttons(blocks json.RawMessage) []string {
	var bs []map[string]any
	_ = json.Unmarshal(blocks, &bs)
	var out []string
	for _, b := range bs {
		els, _ := b["elements"].([]any)
		for _, e := range els {
			el, _ := e.(map[string]any)
			if str(el, "type") == "button" {
				text, _ := el["text"].(map[string]any)
				out = append(out, str(text, "text"))
			}
		}
	}
	return out
}
