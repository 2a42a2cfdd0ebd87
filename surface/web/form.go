package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hitl-dev/hitl/input"
)

// Form field names. The answer of a single-value type is "answer" (and "answer_other" for
// the free text of allow_custom); a form's fields are "f0", "f1", ... in spec order; an
// approval has "comment" and, when the action can be edited, "edited". The pressed button
// is "_action": submit, skip, approve, reject or edit.
const (
	nameAnswer = "answer"
	nameOther  = "answer_other"
	nameAction = "_action"
)

// Keys of the controls that errors are shown beside.
const (
	keyAnswer  = "answer"
	keyComment = "comment"
	keyEdited  = "edited"
	keyGeneral = "" // not beside any control: shown above the buttons
)

func fieldName(i int) string    { return "f" + strconv.Itoa(i) }
func fieldKey(id string) string { return "field:" + id }

// formView is a request's answer form, ready for the template.
type formView struct {
	Action   string // where it posts (with the link token, if any)
	CSRF     string
	Controls []*control
	Buttons  []button
	// Problems are every error, in the order of the controls, for the summary at the top.
	Problems []problem
	// General are errors that belong to no control (the answer as a whole).
	General []string
}

// control is one question of the form: a group of radio buttons or check boxes, a text
// input, a text area.
type control struct {
	Key      string // which errors land here (see keyAnswer etc.)
	ID       string // HTML id: of the input, or of the group's fieldset
	Anchor   string // HTML id to link to from the error summary (the first input)
	Name     string // form field name
	Kind     string // radio, checkbox, text, textarea, number, json
	Label    string
	Hint     string
	Required bool
	Options  []choice
	Value    string
	Rows     int
	// Input attributes; zero values are left out.
	MaxLength, MinLength int
	Min, Max, Step       string
	// Other is the free text input of an allow_custom select or multiselect.
	Other *control
	// Schema is a JSON Schema the value must match, shown folded under the control.
	Schema string
	// Errors are shown beside the control, one per line.
	Errors []string
}

// Error is the control's errors in one string ("" when it has none).
func (c *control) Error() string { return strings.Join(c.Errors, " ") }

// choice is one radio button or check box.
type choice struct {
	ID, Value, Label, Description string
	Checked                       bool
}

// button is a submit button: its value goes in _action.
type button struct {
	Value, Label, Class string
}

// problem is an error in the summary, linking to its control.
type problem struct {
	Anchor, Message string
}

// HintID and ErrorID name the elements that aria-describedby points at.
func (c *control) HintID() string  { return c.ID + "-hint" }
func (c *control) ErrorID() string { return c.ID + "-error" }

// DescribedBy lists the hint and the error, for aria-describedby.
func (c *control) DescribedBy() string {
	var ids []string
	if c.Hint != "" {
		ids = append(ids, c.HintID())
	}
	if len(c.Errors) > 0 {
		ids = append(ids, c.ErrorID())
	}
	return strings.Join(ids, " ")
}

// ChoiceDescribedBy lists a choice's description and the group's error.
func (c *control) ChoiceDescribedBy(ch choice) string {
	var ids []string
	if ch.Description != "" {
		ids = append(ids, ch.ID+"-desc")
	}
	if len(c.Errors) > 0 {
		ids = append(ids, c.ErrorID())
	}
	return strings.Join(ids, " ")
}

// Group reports whether the control is a set of radio buttons or check boxes.
func (c *control) Group() bool { return c.Kind == "radio" || c.Kind == "checkbox" }

// buildForm lays out the form of spec. posted holds the values a person submitted (nil for
// a fresh form); errs are the errors to show beside the fields.
func buildForm(spec input.Spec, posted url.Values, errs []input.FieldError) *formView {
	f := &formView{}
	val := func(name, def string) string {
		if posted == nil {
			return def
		}
		return posted.Get(name)
	}
	main := &control{Key: keyAnswer, ID: "answer", Name: nameAnswer, Required: !spec.Skippable}
	switch spec.Type {
	case input.Approval:
		if spec.Editable() {
			c := &control{Key: keyEdited, ID: "edited", Name: "edited", Kind: "json", Label: "Proposed action (JSON)",
				Rows: 10, Value: val("edited", pretty(spec.Proposed)), Schema: pretty(spec.ActionSchema)}
			c.Hint = "To change it before approving, edit it here and choose “" + editLabel(spec) + "”."
			f.Controls = append(f.Controls, c)
		}
		c := &control{Key: keyComment, ID: "comment", Name: "comment", Kind: "textarea", Label: "Comment", Rows: 4,
			MaxLength: input.MaxTextLength, Value: val("comment", "")}
		c.Hint = "Optional."
		if spec.RequireCommentOnReject {
			c.Hint = "Required if you reject: say why."
		}
		f.Controls = append(f.Controls, c)
		yes, no := approvalLabels(spec)
		f.Buttons = append(f.Buttons, button{Value: "approve", Label: yes, Class: "approve"})
		if spec.Editable() {
			f.Buttons = append(f.Buttons, button{Value: "edit", Label: editLabel(spec), Class: "approve secondary"})
		}
		f.Buttons = append(f.Buttons, button{Value: "reject", Label: no, Class: "reject"})
	case input.Boolean:
		main.Kind, main.Label = "radio", "Your answer"
		v := val(nameAnswer, "")
		main.Options = []choice{{ID: "answer-yes", Value: "true", Label: "Yes", Checked: v == "true"},
			{ID: "answer-no", Value: "false", Label: "No", Checked: v == "false"}}
		f.Controls = append(f.Controls, main)
	case input.Text:
		main.Kind, main.Label, main.Value = "text", "Your answer", val(nameAnswer, "")
		if spec.Multiline {
			main.Kind, main.Rows = "textarea", 6
		}
		main.MaxLength = input.MaxTextLength
		if spec.MaxLength != nil {
			main.MaxLength = *spec.MaxLength
		}
		if spec.MinLength != nil {
			main.MinLength = *spec.MinLength
		}
		main.Hint = textHint(spec)
		f.Controls = append(f.Controls, main)
	case input.Number:
		main.Kind, main.Label, main.Value = "number", "Your answer", val(nameAnswer, "")
		main.Step = "any"
		if spec.Integer {
			main.Step = "1"
		}
		if spec.Min != nil {
			main.Min = formatNumber(*spec.Min)
		}
		if spec.Max != nil {
			main.Max = formatNumber(*spec.Max)
		}
		main.Hint = numberHint(spec.Integer, spec.Min, spec.Max)
		f.Controls = append(f.Controls, main)
	case input.Select:
		main.Kind, main.Label = "radio", "Choose one"
		v, chosen := val(nameAnswer, ""), posted != nil && posted.Has(nameAnswer)
		main.Options = choices("answer", spec.Options, func(id string) bool { return chosen && v == id })
		if spec.AllowCustom {
			main.Other = &control{ID: "answer-other", Name: nameOther, Kind: "text", Label: "Other",
				MaxLength: input.MaxCustomLength, Value: val(nameOther, "")}
			main.Options = append(main.Options, choice{ID: "answer-other-choice", Value: "", Label: "Other (type it below)",
				Checked: chosen && v == ""})
			main.Hint = "Or choose Other and type your own answer."
		}
		f.Controls = append(f.Controls, main)
	case input.MultiSelect:
		main.Kind, main.Label = "checkbox", "Choose any that apply"
		picked := map[string]bool{}
		if posted != nil {
			for _, v := range posted[nameAnswer] {
				picked[v] = true
			}
		}
		main.Options = choices("answer", spec.Options, func(id string) bool { return picked[id] })
		if spec.AllowCustom {
			main.Other = &control{ID: "answer-other", Name: nameOther, Kind: "text", Label: "Other (optional)",
				MaxLength: input.MaxCustomLength, Value: val(nameOther, "")}
		}
		main.Required = false // none is an answer too, unless min_picks says otherwise
		main.Hint = picksHint(spec.MinPicks, spec.MaxPicks)
		if spec.MinPicks != nil && *spec.MinPicks > 0 {
			main.Required = true
		}
		f.Controls = append(f.Controls, main)
	case input.Form:
		for i, fd := range spec.Fields {
			f.Controls = append(f.Controls, fieldControl(i, fd, posted))
		}
	default: // json, and types newer than this package: the answer as JSON
		main.Kind, main.Label, main.Rows, main.Value = "json", "Your answer (JSON)", 8, val(nameAnswer, "")
		main.Hint = "Write the answer as JSON, e.g. {\"key\": \"value\"}, \"text\" or 42."
		main.Schema = pretty(spec.Schema)
		f.Controls = append(f.Controls, main)
	}
	if spec.Type != input.Approval {
		f.Buttons = append(f.Buttons, button{Value: "submit", Label: "Submit answer", Class: "approve"})
	}
	if spec.Skippable {
		f.Buttons = append(f.Buttons, button{Value: "skip", Label: "Skip this question", Class: "secondary"})
	}
	f.place(spec, errs)
	return f
}

func fieldControl(i int, fd input.Field, posted url.Values) *control {
	name := fieldName(i)
	c := &control{Key: fieldKey(fd.ID), ID: "field-" + strconv.Itoa(i), Name: name, Label: cmp.Or(fd.Name, fd.ID),
		Hint: fd.Data.Description, Required: fd.Required}
	v, has := "", false
	if posted != nil {
		v, has = posted.Get(name), posted.Has(name)
	}
	switch fd.Type {
	case input.FieldBoolean:
		c.Kind = "radio"
		c.Options = []choice{{ID: c.ID + "-yes", Value: "true", Label: "Yes", Checked: v == "true"},
			{ID: c.ID + "-no", Value: "false", Label: "No", Checked: v == "false"}}
	case input.FieldNumber:
		c.Kind, c.Value, c.Step = "number", v, "any"
	case input.FieldSelect:
		c.Kind = "radio"
		c.Options = choices(c.ID, fd.Options, func(id string) bool { return has && v == id })
	case input.FieldString:
		c.Kind, c.Value, c.Rows, c.MaxLength = "textarea", v, 3, input.MaxTextLength
	default: // a field type newer than this package
		c.Kind, c.Value, c.Rows = "json", v, 3
		c.Hint = strings.TrimSpace(c.Hint + " (as JSON)")
	}
	return c
}

func choices(prefix string, opts []input.Option, checked func(id string) bool) []choice {
	out := make([]choice, len(opts))
	for i, o := range opts {
		out[i] = choice{ID: prefix + "-" + strconv.Itoa(i), Value: o.ID, Label: cmp.Or(o.Label, o.ID),
			Description: o.Description, Checked: checked(o.ID)}
	}
	return out
}

// place puts each error beside its control and in the summary.
func (f *formView) place(spec input.Spec, errs []input.FieldError) {
	byKey := map[string]*control{}
	for _, c := range f.Controls {
		byKey[c.Key] = c
	}
	for _, e := range errs {
		key, rest := errorKey(spec, e.Path)
		c := byKey[key]
		subject := "The answer"
		if c != nil {
			subject = c.Label
			if c.Key == keyAnswer {
				subject = "The answer"
			}
		}
		msg := sentenceFor(subject, e.Message, false)
		if rest != "" { // a part of the value: name it, whatever the message
			msg = sentenceFor(rest, e.Message, true)
		}
		if c == nil {
			f.General = append(f.General, msg)
			f.Problems = append(f.Problems, problem{Anchor: "actions", Message: msg})
			continue
		}
		c.Errors = append(c.Errors, msg)
	}
	// The summary follows the order of the page.
	var summary []problem
	for _, c := range f.Controls {
		anchor := c.ID
		if c.Group() && len(c.Options) > 0 {
			anchor = c.Options[0].ID
		}
		for _, msg := range c.Errors {
			summary = append(summary, problem{Anchor: anchor, Message: msg})
		}
	}
	f.Problems = append(summary, f.Problems...)
}

// errorKey maps an error's JSON path ("$", "$.approved", "$.budget", "$.edited.amount",
// "$[2]") to the control it belongs beside, and the rest of the path below that control
// when it names a part of the value ("amount"), for the sentence.
func errorKey(spec input.Spec, path string) (key, rest string) {
	switch spec.Type {
	case input.Approval:
		name, sub, ok := firstMember(path)
		switch {
		case ok && name == "comment":
			return keyComment, ""
		case ok && name == "edited" && spec.Editable():
			return keyEdited, sub
		}
		return keyGeneral, ""
	case input.Form:
		name, sub, ok := firstMember(path)
		if !ok {
			return keyGeneral, ""
		}
		for _, fd := range spec.Fields {
			if fd.ID == name {
				return fieldKey(name), sub
			}
		}
		return keyGeneral, ""
	case input.Text, input.Boolean, input.Number, input.Select, input.MultiSelect:
		return keyAnswer, ""
	}
	return keyAnswer, strings.TrimPrefix(strings.TrimPrefix(path, "$"), ".")
}

// firstMember splits a JSON path as the input package writes it ("$.name.more",
// "$['a b'][1]") into its first member name and the rest (without the dot).
func firstMember(path string) (name, rest string, ok bool) {
	p, found := strings.CutPrefix(path, "$")
	if !found {
		return "", "", false
	}
	switch {
	case strings.HasPrefix(p, "."):
		p = p[1:]
		end := strings.IndexAny(p, ".[")
		if end < 0 {
			end = len(p)
		}
		if end == 0 {
			return "", "", false
		}
		return p[:end], strings.TrimPrefix(p[end:], "."), true
	case strings.HasPrefix(p, "['"):
		var b strings.Builder
		for i := 2; i < len(p); i++ {
			switch c := p[i]; c {
			case '\\':
				if i+1 >= len(p) {
					return "", "", false
				}
				i++
				switch p[i] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case 'u':
					if i+4 >= len(p) {
						return "", "", false
					}
					n, err := strconv.ParseUint(p[i+1:i+5], 16, 8)
					if err != nil {
						return "", "", false
					}
					b.WriteByte(byte(n))
					i += 4
				default:
					b.WriteByte(p[i])
				}
			case '\'':
				if i+1 < len(p) && p[i+1] == ']' {
					return b.String(), strings.TrimPrefix(p[i+2:], "."), true
				}
				return "", "", false
			default:
				b.WriteByte(c)
			}
		}
	}
	return "", "", false
}

// sentenceFor turns a validation message ("must be at most 12 characters (got 13)") into a
// sentence about subject ("The answer must be at most 12 characters (got 13)."). Messages
// that are sentences of their own are only capitalised, or, with always, follow
// "subject: ".
func sentenceFor(subject, msg string, always bool) string {
	msg = strings.TrimSpace(msg)
	first, _, _ := strings.Cut(msg, " ")
	switch first {
	case "must", "is", "are", "picks", "can", "cannot", "has", "does", "should", "needs", "matches":
		msg = subject + " " + msg
	default:
		if always {
			msg = subject + ": " + msg
			break
		}
		r, n := utf8.DecodeRuneInString(msg)
		msg = string(unicode.ToUpper(r)) + msg[n:]
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// pretty indents JSON for people, with <, > and & as themselves rather than the \u003c
// escapes encoding/json stores them as.
func pretty(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return unescapeHTML(b.String())
}

// unescapeHTML turns the escapes \u003c, \u003e and \u0026 of valid JSON back into the
// characters; every other escape is kept.
func unescapeHTML(s string) string {
	if !strings.Contains(s, `\u00`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == 'u' && i+6 <= len(s) {
			switch strings.ToLower(s[i+2 : i+6]) {
			case "003c":
				b.WriteByte('<')
				i += 5
				continue
			case "003e":
				b.WriteByte('>')
				i += 5
				continue
			case "0026":
				b.WriteByte('&')
				i += 5
				continue
			}
		}
		b.WriteString(s[i : i+2]) // an escape: its backslash and the next byte stay together
		i++
	}
	return b.String()
}

// approvalLabels are the two buttons of an approval, as on every surface.
func approvalLabels(spec input.Spec) (yes, no string) { return spec.ApprovalLabels() }

func firstLabel(spec input.Spec) string { yes, _ := approvalLabels(spec); return yes }

func editLabel(spec input.Spec) string { return firstLabel(spec) + " with my edits" }

func textHint(spec input.Spec) string {
	var parts []string
	switch {
	case spec.MinLength != nil && *spec.MinLength > 0 && spec.MaxLength != nil:
		parts = append(parts, fmt.Sprintf("%d to %d characters.", *spec.MinLength, *spec.MaxLength))
	case spec.MinLength != nil && *spec.MinLength > 0:
		parts = append(parts, fmt.Sprintf("At least %d characters.", *spec.MinLength))
	case spec.MaxLength != nil:
		parts = append(parts, fmt.Sprintf("Up to %d characters.", *spec.MaxLength))
	}
	if spec.Pattern != "" {
		parts = append(parts, "Must match the pattern "+clip(spec.Pattern, 120)+".")
	}
	if spec.Multiline {
		parts = append(parts, "Several lines are fine.")
	}
	return strings.Join(parts, " ")
}

func numberHint(integer bool, lo, hi *float64) string {
	what := "A number"
	if integer {
		what = "A whole number"
	}
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("%s from %s to %s.", what, formatNumber(*lo), formatNumber(*hi))
	case lo != nil:
		return fmt.Sprintf("%s, at least %s.", what, formatNumber(*lo))
	case hi != nil:
		return fmt.Sprintf("%s, at most %s.", what, formatNumber(*hi))
	}
	return what + "."
}

func picksHint(lo, hi *int) string {
	switch {
	case lo != nil && hi != nil && *lo == *hi:
		return fmt.Sprintf("Choose exactly %d.", *lo)
	case lo != nil && *lo > 0 && hi != nil:
		return fmt.Sprintf("Choose %d to %d.", *lo, *hi)
	case lo != nil && *lo > 0:
		return fmt.Sprintf("Choose at least %d.", *lo)
	case hi != nil:
		return fmt.Sprintf("Choose at most %d.", *hi)
	}
	return ""
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func clip(s string, n int) string { return input.Truncate(s, n) }
