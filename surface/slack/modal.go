package slack

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

// The modal's callback_id, input block ids and the action_id of every input element.
const (
	callbackID   = "hitl.answer"
	blockAnswer  = "hitl.answer"
	blockComment = "hitl.comment"
	blockEdited  = "hitl.edited"
	blockCustom  = "hitl.custom"
	blockField   = "hitl.field." // + the field's index
	valueAction  = "value"
)

// Slack's limits on modals.
const (
	maxInputChars = 3000 // plain_text_input
	maxRadio      = 10   // radio_buttons and checkboxes
	maxSelect     = 100  // static_select and multi_static_select
	maxOptionText = 75
	maxHint       = 2000
	maxMetadata   = 3000
)

// meta travels in the modal's private_metadata: what the click knew that the submission
// does not (Slack signs both, so it comes back as it was sent).
type meta struct {
	RequestID   string `json:"request_id"`
	ChannelID   string `json:"channel_id,omitempty"`
	ChannelName string `json:"channel_name,omitempty"`
	ResponseURL string `json:"response_url,omitempty"`
}

func plain(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.PlainTextType, s, true, false)
}

// modal is the form that answers req, its inputs built from the input spec. preset is the
// choice of the button that opened it (ChoiceFormReject picks "reject").
func modal(req *events.Request, preset string, m meta) slackgo.ModalViewRequest {
	md, _ := json.Marshal(m)
	if len(md) > maxMetadata { // a response_url is short; drop it rather than fail
		m.ResponseURL = ""
		md, _ = json.Marshal(m)
	}
	intro := "*" + Escape(truncate(strings.Join(strings.Fields(req.Title), " "), 300)) + "*"
	if msg := strings.TrimSpace(req.Message); msg != "" {
		intro += "\n" + truncate(Mrkdwn(msg), 2500)
	}
	blocks := []slackgo.Block{slackgo.NewSectionBlock(mrkdwn(intro), nil, nil, slackgo.SectionBlockOptionBlockID("hitl.intro"))}
	blocks = append(blocks, inputs(req.Input, preset)...)
	return slackgo.ModalViewRequest{
		Type:            slackgo.VTModal,
		Title:           plain("Answer"),
		Submit:          plain("Submit"),
		Close:           plain("Cancel"),
		CallbackID:      callbackID,
		PrivateMetadata: string(md),
		Blocks:          slackgo.Blocks{BlockSet: blocks},
	}
}

func inputBlock(id, label, hint string, optional bool, el slackgo.BlockElement) *slackgo.InputBlock {
	var h *slackgo.TextBlockObject
	if hint = strings.TrimSpace(hint); hint != "" {
		h = plain(truncate(hint, maxHint))
	}
	return slackgo.NewInputBlock(id, plain(truncate(cmp.Or(label, "Answer"), 2000)), h, el).WithOptional(optional)
}

func option(value, text, description string) *slackgo.OptionBlockObject {
	var d *slackgo.TextBlockObject
	if description = strings.TrimSpace(description); description != "" {
		d = plain(truncate(description, maxOptionText))
	}
	return slackgo.NewOptionBlockObject(value, plain(truncate(cmp.Or(strings.TrimSpace(text), value), maxOptionText)), d)
}

// optionValue is the value of spec option i in the modal (Slack caps values at 150
// characters; option ids have no cap, so the modal names them by index).
func optionValue(i int) string { return "o" + strconv.Itoa(i) }

func optionIndex(v string, n int) (int, bool) {
	i, err := strconv.Atoi(strings.TrimPrefix(v, "o"))
	return i, err == nil && strings.HasPrefix(v, "o") && i >= 0 && i < n
}

// pickOne is a radio group for a few options, a menu for more.
func pickOne(opts []*slackgo.OptionBlockObject) slackgo.BlockElement {
	if len(opts) <= maxRadio {
		return slackgo.NewRadioButtonsBlockElement(valueAction, opts...)
	}
	return slackgo.NewOptionsSelectBlockElement(slackgo.OptTypeStatic, plain("Choose"), valueAction, opts[:min(len(opts), maxSelect)]...)
}

func pickMany(opts []*slackgo.OptionBlockObject) slackgo.BlockElement {
	if len(opts) <= maxRadio {
		return slackgo.NewCheckboxGroupsBlockElement(valueAction, opts...)
	}
	return slackgo.NewOptionsMultiSelectBlockElement(slackgo.MultiOptTypeStatic, plain("Choose"), valueAction, opts[:min(len(opts), maxSelect)]...)
}

func specOptions(opts []input.Option) []*slackgo.OptionBlockObject {
	out := make([]*slackgo.OptionBlockObject, len(opts))
	for i, o := range opts {
		out[i] = option(optionValue(i), cmp.Or(o.Label, o.ID), o.Description)
	}
	return out
}

func textInput(multiline bool) *slackgo.PlainTextInputBlockElement {
	return slackgo.NewPlainTextInputBlockElement(nil, valueAction).WithMultiline(multiline).WithMaxLength(maxInputChars)
}

func numberInput(s input.Spec) *slackgo.NumberInputBlockElement {
	el := slackgo.NewNumberInputBlockElement(nil, valueAction, !s.Integer)
	if s.Min != nil {
		el = el.WithMinValue(strconv.FormatFloat(*s.Min, 'f', -1, 64))
	}
	if s.Max != nil {
		el = el.WithMaxValue(strconv.FormatFloat(*s.Max, 'f', -1, 64))
	}
	return el
}

func yesNo() []*slackgo.OptionBlockObject {
	return []*slackgo.OptionBlockObject{option("true", "Yes", ""), option("false", "No", "")}
}

func inputs(s input.Spec, preset string) []slackgo.Block {
	switch s.Type {
	case input.Approval:
		approve, reject := s.ApprovalLabels()
		radio := slackgo.NewRadioButtonsBlockElement(valueAction, option("approve", approve, ""), option("reject", reject, ""))
		if preset == ChoiceFormReject {
			radio.InitialOption = radio.Options[1]
		}
		commentHint := ""
		if s.RequireCommentOnReject {
			commentHint = "Required when rejecting: say why."
		}
		blocks := []slackgo.Block{
			inputBlock(blockAnswer, "Decision", "", false, radio),
			inputBlock(blockComment, "Comment", commentHint, true, textInput(true)),
		}
		if s.Editable() {
			el := textInput(true)
			if p := pretty(s.Proposed); p != "" && utf8.RuneCountInString(p) <= maxInputChars {
				el = el.WithInitialValue(p)
			}
			blocks = append(blocks, inputBlock(blockEdited, "Action (JSON)",
				"Edit the proposed action before approving; leave it as it is to approve it unchanged.", true, el))
		}
		return blocks
	case input.Text:
		el := textInput(s.Multiline)
		if s.MaxLength != nil && *s.MaxLength > 0 {
			el = el.WithMaxLength(min(*s.MaxLength, maxInputChars))
		}
		required := s.MinLength != nil && *s.MinLength > 0
		if required {
			el = el.WithMinLength(min(*s.MinLength, maxInputChars))
		}
		hint := ""
		if s.Pattern != "" {
			hint = "Format: " + s.Pattern
		}
		return []slackgo.Block{inputBlock(blockAnswer, "Your answer", hint, !required, el)}
	case input.Boolean:
		return []slackgo.Block{inputBlock(blockAnswer, "Your answer", "", false, slackgo.NewRadioButtonsBlockElement(valueAction, yesNo()...))}
	case input.Number:
		return []slackgo.Block{inputBlock(blockAnswer, "Your answer", "", false, numberInput(s))}
	case input.Select, input.MultiSelect:
		var blocks []slackgo.Block
		many := s.Type == input.MultiSelect
		if len(s.Options) > 0 {
			el, label := pickOne(specOptions(s.Options)), "Choose one"
			if many {
				el, label = pickMany(specOptions(s.Options)), "Choose"
			}
			blocks = append(blocks, inputBlock(blockAnswer, label, "", many || s.AllowCustom, el))
		}
		if s.AllowCustom {
			label, hint := "Or type your own", ""
			if many {
				label, hint = "Others", "One per line."
			}
			blocks = append(blocks, inputBlock(blockCustom, label, hint, len(s.Options) > 0, textInput(many)))
		}
		return blocks
	case input.Form:
		var blocks []slackgo.Block
		for i, f := range s.Fields {
			var el slackgo.BlockElement
			switch f.Type {
			case input.FieldNumber:
				el = slackgo.NewNumberInputBlockElement(nil, valueAction, true)
			case input.FieldBoolean:
				el = slackgo.NewRadioButtonsBlockElement(valueAction, yesNo()...)
			case input.FieldSelect:
				el = pickOne(specOptions(f.Options))
			default:
				el = textInput(false)
			}
			blocks = append(blocks, inputBlock(blockField+strconv.Itoa(i), cmp.Or(f.Name, f.ID), f.Data.Description, !f.Required, el))
		}
		return blocks
	}
	hint := "A JSON value."
	if len(s.Schema) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, s.Schema) == nil {
			hint = "JSON matching the schema " + buf.String()
		}
	}
	return []slackgo.Block{inputBlock(blockAnswer, "Your answer (JSON)", hint, false, textInput(true))}
}

func pretty(doc json.RawMessage) string {
	var buf bytes.Buffer
	if len(doc) == 0 || json.Indent(&buf, doc, "", "  ") != nil {
		return ""
	}
	return buf.String()
}

// ---- reading a submission ----

type state map[string]map[string]slackgo.BlockAction

func (st state) get(block string) (slackgo.BlockAction, bool) {
	a, ok := st[block][valueAction]
	return a, ok
}

func (st state) text(block string) string {
	a, _ := st.get(block)
	return a.Value
}

func (st state) picked(block string) string {
	a, _ := st.get(block)
	return a.SelectedOption.Value
}

func (st state) pickedAll(block string) []string {
	a, _ := st.get(block)
	var out []string
	for _, o := range a.SelectedOptions {
		out = append(out, o.Value)
	}
	return out
}

// submission is what a modal's state says, read against the spec: the answer, or the
// problems found before validation, by block id.
type submission struct {
	answer json.RawMessage
	errors map[string]string
	// menuPicks: how many of a multiselect's picks came from the menu (the rest were
	// typed); selectCustom: a select's answer was typed.
	menuPicks    int
	selectCustom bool
}

func (s *submission) fail(block, msg string) {
	if s.errors == nil {
		s.errors = map[string]string{}
	}
	s.errors[block] = msg
}

// readSubmission builds the answer from the modal's state.
func readSubmission(spec input.Spec, st state) *submission {
	sub := &submission{}
	var v any
	switch spec.Type {
	case input.Approval:
		a := map[string]any{}
		switch st.picked(blockAnswer) {
		case "approve":
			a["approved"] = true
		case "reject":
			a["approved"] = false
		default:
			sub.fail(blockAnswer, "Choose one.")
		}
		if c := st.text(blockComment); strings.TrimSpace(c) != "" {
			a["comment"] = c
		}
		if spec.Editable() {
			if t := strings.TrimSpace(st.text(blockEdited)); t != "" {
				if !json.Valid([]byte(t)) {
					sub.fail(blockEdited, "This is not valid JSON.")
				} else if !sameJSON(json.RawMessage(t), spec.Proposed) {
					a["edited"] = json.RawMessage(t)
				}
			}
		}
		v = a
	case input.Text:
		v = st.text(blockAnswer)
	case input.Boolean:
		switch st.picked(blockAnswer) {
		case "true":
			v = true
		case "false":
			v = false
		default:
			sub.fail(blockAnswer, "Choose yes or no.")
		}
	case input.Number:
		n, ok := number(st.text(blockAnswer))
		if !ok {
			sub.fail(blockAnswer, "Enter a number.")
		}
		v = n
	case input.Select:
		custom := strings.TrimSpace(st.text(blockCustom))
		i, picked := optionIndex(st.picked(blockAnswer), len(spec.Options))
		switch {
		case picked && custom != "":
			sub.fail(blockCustom, "Pick an option or type one, not both.")
		case picked:
			v = spec.Options[i].ID
		case custom != "":
			v, sub.selectCustom = custom, true
		case len(spec.Options) == 0:
			sub.fail(blockCustom, "Type your answer.")
		default:
			sub.fail(blockAnswer, "Choose one.")
		}
	case input.MultiSelect:
		ids := []string{}
		for _, p := range st.pickedAll(blockAnswer) {
			if i, ok := optionIndex(p, len(spec.Options)); ok {
				ids = append(ids, spec.Options[i].ID)
			}
		}
		sub.menuPicks = len(ids)
		for line := range strings.SplitSeq(st.text(blockCustom), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				ids = append(ids, line)
			}
		}
		v = ids
	case input.Form:
		m := map[string]any{}
		for i, f := range spec.Fields {
			b := blockField + strconv.Itoa(i)
			switch f.Type {
			case input.FieldNumber:
				if t := strings.TrimSpace(st.text(b)); t != "" {
					n, ok := number(t)
					if !ok {
						sub.fail(b, "Enter a number.")
					}
					m[f.ID] = n
				}
			case input.FieldBoolean:
				switch st.picked(b) {
				case "true":
					m[f.ID] = true
				case "false":
					m[f.ID] = false
				}
			case input.FieldSelect:
				if j, ok := optionIndex(st.picked(b), len(f.Options)); ok {
					m[f.ID] = f.Options[j].ID
				}
			default:
				if t := st.text(b); t != "" {
					m[f.ID] = t
				}
			}
		}
		v = m
	default:
		t := strings.TrimSpace(st.text(blockAnswer))
		if !json.Valid([]byte(t)) {
			sub.fail(blockAnswer, "This is not valid JSON.")
		}
		v = json.RawMessage(t)
	}
	if sub.errors == nil {
		sub.answer, _ = json.Marshal(v)
	}
	return sub
}

// number reads a number_input's text as a JSON number.
func number(t string) (json.RawMessage, bool) {
	t = strings.TrimSpace(t)
	if _, err := strconv.ParseFloat(t, 64); err != nil || !json.Valid([]byte(t)) {
		return nil, false
	}
	return json.RawMessage(t), true
}

func sameJSON(a, b json.RawMessage) bool {
	ca, err1 := input.Canonical(a)
	cb, err2 := input.Canonical(b)
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}

// fieldErrors places validation errors on the modal's input blocks: Slack shows each under
// its input. blocks are the modal's input block ids.
func fieldErrors(spec input.Spec, sub *submission, ve *input.ValidationError, blocks map[string]bool) map[string]string {
	out := map[string]string{}
	first := ""
	for _, id := range inputBlockOrder(spec) {
		if blocks[id] {
			first = id
			break
		}
	}
	for _, f := range ve.Fields {
		b, msg := blockFor(spec, sub, f.Path), f.Message
		if spec.Type == input.JSON || !blocks[b] {
			msg = f.Path + ": " + msg
		}
		if !blocks[b] {
			b = first
		}
		if prev, ok := out[b]; ok {
			msg = prev + "; " + msg
		}
		out[b] = truncate(capitalize(msg), 500)
	}
	return out
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

// inputBlockOrder lists the input block ids a spec's modal may have, in order.
func inputBlockOrder(spec input.Spec) []string {
	if spec.Type == input.Form {
		ids := make([]string, len(spec.Fields))
		for i := range spec.Fields {
			ids[i] = blockField + strconv.Itoa(i)
		}
		return ids
	}
	return []string{blockAnswer, blockCustom, blockComment, blockEdited}
}

// blockFor is the input block an answer's JSON path belongs to.
func blockFor(spec input.Spec, sub *submission, path string) string {
	member, index := firstStep(path)
	switch spec.Type {
	case input.Approval:
		switch member {
		case "comment":
			return blockComment
		case "edited":
			return blockEdited
		}
	case input.Select:
		if sub.selectCustom {
			return blockCustom
		}
	case input.MultiSelect:
		if index >= sub.menuPicks {
			return blockCustom
		}
	case input.Form:
		for i, f := range spec.Fields {
			if f.ID == member {
				return blockField + strconv.Itoa(i)
			}
		}
		return ""
	}
	return blockAnswer
}

// firstStep reads the first step of a JSON path: "$.a.b" → "a", "$['a b']" → "a b",
// "$[2]" → index 2. index is -1 when the step is not an index.
func firstStep(path string) (member string, index int) {
	rest, _ := strings.CutPrefix(path, "$")
	switch {
	case strings.HasPrefix(rest, "."):
		rest = rest[1:]
		end := strings.IndexAny(rest, ".[")
		if end < 0 {
			end = len(rest)
		}
		return rest[:end], -1
	case strings.HasPrefix(rest, "['"):
		if end := strings.Index(rest[2:], "']"); end >= 0 {
			return strings.ReplaceAll(rest[2:2+end], `\'`, "'"), -1
		}
	case strings.HasPrefix(rest, "["):
		if end := strings.Index(rest, "]"); end > 0 {
			if i, err := strconv.Atoi(rest[1:end]); err == nil {
				return "", i
			}
		}
	}
	return "", -1
}

// describeErrors is a validation failure as a short text (for an ephemeral reply).
func describeErrors(ve *input.ValidationError) string {
	var parts []string
	for _, f := range ve.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s", f.Path, f.Message))
	}
	return strings.Join(parts, "; ")
}
