package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/hitl-dev/hitl/input"
)

// decodeAnswer turns a submitted form into the JSON answer to spec. problems are values
// that could not be read (a number that is not a number, text that is not JSON), by the
// JSON path validation would use; the answer is then nil.
func decodeAnswer(spec input.Spec, f url.Values) (json.RawMessage, []input.FieldError) {
	action := f.Get(nameAction)
	if action == "skip" {
		return json.RawMessage("null"), nil
	}
	var problems []input.FieldError
	bad := func(path, msg string) { problems = append(problems, input.FieldError{Path: path, Message: msg}) }
	// none: nothing was chosen or typed. A skippable question would take that as a skip,
	// which the person did not ask for: they have a Skip button.
	none := func() json.RawMessage {
		if spec.Skippable {
			bad("$", "needs an answer: choose or type one, or press “Skip this question”")
		}
		return json.RawMessage("null")
	}
	var out json.RawMessage
	switch spec.Type {
	case input.Approval:
		a := input.ApprovalAnswer{Comment: lines(f.Get("comment"))}
		if strings.TrimSpace(a.Comment) == "" {
			a.Comment = ""
		}
		switch action {
		case "approve":
			a.Approved = true
		case "reject":
		case "edit":
			a.Approved = true
			raw, msg := parseJSON(f.Get("edited"))
			switch {
			case !spec.Editable():
				bad("$", "cannot be edited: this approval has no proposed action")
			case msg != "":
				bad("$.edited", msg)
			case raw == nil:
				bad("$.edited", "is empty: write the action as JSON, or choose “"+firstLabel(spec)+"” to approve it as proposed")
			}
			a.Edited = raw
		default:
			bad("$.approved", "is missing: choose one of the buttons")
		}
		out = marshal(a)
	case input.Boolean:
		switch v := f.Get(nameAnswer); v {
		case "true", "false":
			out = json.RawMessage(v)
		case "":
			out = none()
		default:
			bad("$", "must be yes or no")
		}
	case input.Text:
		if !f.Has(nameAnswer) {
			out = none()
			break
		}
		v := f.Get(nameAnswer)
		if spec.Multiline {
			v = lines(v)
		}
		out = marshal(v)
	case input.Number:
		n, msg := parseNumber(f.Get(nameAnswer))
		switch {
		case msg != "":
			bad("$", msg)
		case n == nil:
			out = none()
		default:
			out = n
		}
	case input.Select:
		v, other := f.Get(nameAnswer), strings.TrimSpace(f.Get(nameOther))
		switch {
		case v != "":
			out = marshal(v)
		case spec.AllowCustom && other != "":
			out = marshal(other) // "Other" chosen, or only typed
		case f.Has(nameAnswer) && spec.AllowCustom:
			bad("$", "is missing: type your answer next to Other, or choose an option")
		default:
			out = none()
		}
	case input.MultiSelect:
		picks := []string{}
		seen := map[string]bool{}
		for _, v := range f[nameAnswer] {
			if !seen[v] {
				picks = append(picks, v)
				seen[v] = true
			}
		}
		if other := strings.TrimSpace(f.Get(nameOther)); spec.AllowCustom && other != "" && !seen[other] {
			picks = append(picks, other)
		}
		out = marshal(picks)
	case input.Form:
		obj := map[string]json.RawMessage{}
		for i, fd := range spec.Fields {
			name := fieldName(i)
			v := f.Get(name)
			path := input.MemberPath(fd.ID)
			switch fd.Type {
			case input.FieldBoolean:
				switch v {
				case "true", "false":
					obj[fd.ID] = json.RawMessage(v)
				case "":
				default:
					bad(path, "must be yes or no")
				}
			case input.FieldNumber:
				n, msg := parseNumber(v)
				if msg != "" {
					bad(path, msg)
				} else if n != nil {
					obj[fd.ID] = n
				}
			case input.FieldSelect:
				if v != "" {
					obj[fd.ID] = marshal(v)
				}
			case input.FieldString:
				if v = lines(v); v != "" {
					obj[fd.ID] = marshal(v)
				}
			default:
				raw, msg := parseJSON(v)
				if msg != "" {
					bad(path, msg)
				} else if raw != nil {
					obj[fd.ID] = raw
				}
			}
		}
		out = marshal(obj)
	default: // json and unknown types
		raw, msg := parseJSON(f.Get(nameAnswer))
		switch {
		case msg != "":
			bad("$", msg)
		case raw == nil:
			out = none()
		default:
			out = raw
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

// parseNumber reads a number as typed; nil for an empty field.
func parseNumber(s string) (json.RawMessage, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ""
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, "must be a number, like 42 or 12.5"
	}
	if json.Valid([]byte(s)) && s[0] != '"' { // as typed, when it is a JSON number already
		return json.RawMessage(s), ""
	}
	return json.RawMessage(strconv.FormatFloat(f, 'g', -1, 64)), ""
}

// parseJSON reads a JSON value as typed; nil for an empty field.
func parseJSON(s string) (json.RawMessage, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ""
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		msg := "is not valid JSON"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			msg += fmt.Sprintf(" (at character %d)", se.Offset)
		}
		return nil, msg + `: text is written in quotes, like "yes"`
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return nil, "is not valid JSON"
	}
	return b.Bytes(), ""
}

// lines turns a text area's line breaks (CRLF, as browsers send them) into "\n".
func lines(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// marshal writes v as JSON without HTML escaping (answers are stored as typed).
func marshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}
