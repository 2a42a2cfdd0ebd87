package email

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/present"
)

// MaxActionLinks caps the links of a select: with more options than this the email links
// to the web form instead, where a list reads better than a wall of buttons.
const MaxActionLinks = 12

// Action is one decision an email offers as a link of its own.
type Action struct {
	// Option is bound into the link's token: "approve" or "reject" for an approval, "yes"
	// or "no" for a boolean, the option's id for a select.
	Option      string
	Label       string
	Description string
	// Tone says how the link looks: "primary", "danger" or "neutral".
	Tone string
}

// Actions lists the one-click decisions for an input spec: Approve / Reject, Yes / No, one
// per select option. Nil means the answer needs the web form: text, number, multiselect,
// form, json, a select with more than MaxActionLinks options, and any type added later.
func Actions(s input.Spec) []Action {
	switch s.Type {
	case input.Approval:
		approve, reject := s.ApprovalLabels()
		return []Action{
			{Option: "approve", Label: approve, Tone: "primary"},
			{Option: "reject", Label: reject, Tone: "danger"},
		}
	case input.Boolean:
		return []Action{{Option: "yes", Label: "Yes", Tone: "neutral"}, {Option: "no", Label: "No", Tone: "neutral"}}
	case input.Select:
		if len(s.Options) == 0 || len(s.Options) > MaxActionLinks {
			return nil
		}
		out := make([]Action, 0, len(s.Options))
		for _, o := range s.Options {
			out = append(out, Action{Option: o.ID, Label: orDefault(o.Label, o.ID), Description: o.Description, Tone: "neutral"})
		}
		return out
	}
	return nil
}

// ActionFor finds the action an option names, or reports that the spec offers none such.
func ActionFor(s input.Spec, option string) (Action, bool) {
	for _, a := range Actions(s) {
		if a.Option == option {
			return a, true
		}
	}
	return Action{}, false
}

// Answer turns a chosen option and an optional comment into the answer's data and the
// response's comment. An approval carries the comment inside its data, as
// input.ApprovalAnswer does; other types in the response's comment. The result still has to
// pass store.CheckAnswer (a rejection may require a comment).
func Answer(s input.Spec, option, comment string) (data json.RawMessage, respComment string, err error) {
	if _, ok := ActionFor(s, option); !ok {
		return nil, "", fmt.Errorf("option %q is not one of this request's answers", option)
	}
	comment = strings.TrimSpace(comment)
	var v any
	switch s.Type {
	case input.Approval:
		v = input.ApprovalAnswer{Approved: option == "approve", Comment: comment}
		comment = ""
	case input.Boolean:
		v = option == "yes"
	case input.Select:
		v = option
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	return b, comment, nil
}

// Decision describes how a request ended, for the follow-up email and the outcome page.
type Decision struct {
	Status events.Status
	// What was decided, as a past participle: "approved", "rejected", "answered “Refund”",
	// "cancelled", "timed out".
	What string
	By   string // the responder's identity; "" for timeouts
	At   time.Time
	// Note adds what a timeout's default answer was.
	Note    string
	Comment string
}

// Decided describes r's resolution, in the words package present chose for every surface.
func Decided(r *events.Request) Decision {
	v := present.Of(r)
	d := Decision{Status: r.Status, At: v.At, Comment: v.Comment, By: v.By}
	switch r.Status {
	case events.StatusPending:
		d.What = "not decided yet"
	case events.StatusTimedOut:
		d.What = "timed out"
		switch {
		case v.Answer != "" && r.Input.Type == input.Approval:
			d.Note = "the default answer was used: " + strings.ToLower(v.Answer)
		case v.Answer != "":
			d.Note = "the default answer was used: answered " + quote(v.Answer)
		}
	case events.StatusCancelled:
		d.What = "cancelled"
	default:
		d.What = strings.ToLower(v.Word)
		if v.Answer != "" {
			d.What = "answered " + quote(v.Answer)
		}
	}
	return d
}

func quote(s string) string { return "“" + truncate(s, 200) + "”" }

// truncate cuts s to at most n characters, marking the cut.
func truncate(s string, n int) string { return input.Truncate(s, n) }

// String is the decision as a phrase: "approved by email:a@b.c at 2 Jan 2026 15:04 UTC".
func (d Decision) String() string {
	s := d.What
	if d.By != "" {
		s += " by " + d.By
	}
	if !d.At.IsZero() {
		s += " at " + FormatTime(d.At)
	}
	if d.Note != "" {
		s += "; " + d.Note
	}
	return s
}

// Sentence is the decision about "this request": "This request was approved by … at …."
func (d Decision) Sentence() string {
	switch d.Status {
	case events.StatusPending:
		return "This request is not decided yet."
	case events.StatusTimedOut:
		return "This request " + d.String() + "."
	}
	return "This request was " + d.String() + "."
}

// FormatTime is how emails and pages show times: "2 Jan 2026 15:04 UTC".
func FormatTime(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 MST") }

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
