// Package present decides how a request's outcome reads, once for every surface: the
// verdict word, who decided (or that hitl did), the answer in words, the comment. Surfaces
// only format it (Slack mrkdwn, HTML, Telegram, the terminal).
package present

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

// Tone is how a verdict looks: surfaces map it to a colour or an emoji.
type Tone string

const (
	Positive Tone = "positive" // approved, answered
	Negative Tone = "negative" // rejected
	Neutral  Tone = "neutral"  // skipped, timed out, cancelled
	Waiting  Tone = "waiting"  // not decided yet
)

// MaxAnswerLength is how many characters of an answer in words a verdict carries.
const MaxAnswerLength = 300

// Verdict is how a request ended, in words.
type Verdict struct {
	// Word is the headline: "Approved", "Approved with changes", "Rejected", "Answered",
	// "Skipped", "Timed out", "Cancelled" or "Waiting for an answer".
	Word string
	Tone Tone
	// By is who decided, as recorded ("slack:@U123", "email:a@b.c", "api", ...); "" when
	// hitl decided or nobody has yet.
	By string
	// Automatic is true when hitl decided (a timeout, a run's cancellation, a policy),
	// never a person: surfaces say so and never show it as someone's answer.
	Automatic bool
	// Answer is the answer in words ("Store credit", "Yes", "3 fields"), "" when Word says
	// it all (a plain approval). On a timeout it is the default answer used, if any.
	Answer string
	// Comment is the responder's comment, an approval's included.
	Comment string
	// At is when it was decided; zero while pending.
	At time.Time
	// Symbol is the verdict's emoji, the same on every surface that shows one: ✅ ❌ ⏭ ⌛ 🚫 💬.
	Symbol string
}

// Of reads r's verdict.
func Of(r *events.Request) Verdict {
	v := of(r)
	switch {
	case r.Status == events.StatusTimedOut:
		v.Symbol = "⌛"
	case r.Status == events.StatusCancelled:
		v.Symbol = "🚫"
	case v.Tone == Waiting:
		v.Symbol = "💬"
	case v.Word == "Skipped":
		v.Symbol = "⏭"
	case v.Tone == Negative:
		v.Symbol = "❌"
	default:
		v.Symbol = "✅"
	}
	return v
}

// StatusWord is how a resolved request ended in one word, for footers and lists:
// "Answered", "Timed out" or "Cancelled".
func StatusWord(status events.Status) string {
	switch status {
	case events.StatusTimedOut:
		return "Timed out"
	case events.StatusCancelled:
		return "Cancelled"
	}
	return "Answered"
}

// Data is r's answer data, nil when there is none or it is null (a skip).
func Data(r *events.Request) json.RawMessage {
	if r.Response == nil {
		return nil
	}
	return answerData(r.Response.Data)
}

func of(r *events.Request) Verdict {
	v := Verdict{Tone: Neutral}
	resp := r.Response
	if resp == nil {
		resp = &events.Response{}
	}
	switch {
	case r.ResolvedAt != nil:
		v.At = r.ResolvedAt.UTC()
	case !resp.At.IsZero():
		v.At = resp.At.UTC()
	}
	v.Comment = strings.TrimSpace(resp.Comment)
	v.Automatic = strings.HasPrefix(resp.Responder, "hitl:")
	if !v.Automatic {
		v.By = resp.Responder
	}
	data := answerData(resp.Data)
	switch r.Status {
	case events.StatusPending:
		return Verdict{Word: "Waiting for an answer", Tone: Waiting}
	case events.StatusTimedOut:
		v.Word, v.Automatic, v.By = "Timed out", true, ""
		if data != nil {
			v.Answer = Answer(r.Input, data)
		}
		return v
	case events.StatusCancelled:
		v.Word = "Cancelled"
		return v
	}
	if data == nil {
		v.Word = "Skipped"
		return v
	}
	v.Word, v.Tone = "Answered", Positive
	if r.Input.Type == input.Approval {
		var a input.ApprovalAnswer
		if json.Unmarshal(data, &a) == nil {
			v.Comment = cmp.Or(v.Comment, strings.TrimSpace(a.Comment))
			v.Word = approvalWord(a)
			if !a.Approved {
				v.Tone = Negative
			}
			return v
		}
	}
	v.Answer = Answer(r.Input, data)
	return v
}

// Sentence is the verdict in one line of plain text: "Approved by alice",
// "Timed out (hitl decided)", "Cancelled by api".
func (v Verdict) Sentence() string {
	s := v.Word
	if v.Answer != "" {
		s += ": " + v.Answer
	}
	switch {
	case v.By != "":
		s += " by " + v.By
	case v.Automatic:
		s += " (decided by hitl, not a person)"
	}
	return s
}

// Answer puts an answer to spec in words for people, at most MaxAnswerLength characters:
// an approval's verdict, option labels for a select or multiselect, Yes or No, the text, the number, a count of a
// form's fields, compact JSON otherwise. "" for null.
func Answer(spec input.Spec, data json.RawMessage) string {
	data = answerData(data)
	if data == nil {
		return ""
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	label := func(id string) string {
		for _, o := range spec.Options {
			if o.ID == id {
				return cmp.Or(o.Label, o.ID)
			}
		}
		return id
	}
	if spec.Type == input.Approval {
		var a input.ApprovalAnswer
		if json.Unmarshal(data, &a) == nil {
			return approvalWord(a)
		}
	}
	var s string
	switch x := v.(type) {
	case bool:
		s = map[bool]string{true: "Yes", false: "No"}[x]
	case string:
		if spec.Type == input.Select {
			s = label(x)
		} else {
			s = x
		}
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if id, ok := e.(string); ok {
				parts = append(parts, label(id))
			} else {
				parts = append(parts, fmt.Sprint(e))
			}
		}
		s = strings.Join(parts, ", ")
		if s == "" {
			s = "none"
		}
	case map[string]any:
		if spec.Type == input.Form {
			s = fmt.Sprintf("%d field%s", len(x), map[bool]string{true: "", false: "s"}[len(x) == 1])
		} else {
			var b bytes.Buffer
			if json.Compact(&b, data) == nil {
				s = b.String()
			}
		}
	}
	return input.Truncate(strings.Join(strings.Fields(s), " "), MaxAnswerLength)
}

func approvalWord(a input.ApprovalAnswer) string {
	switch {
	case !a.Approved:
		return "Rejected"
	case len(a.Edited) > 0:
		return "Approved with changes"
	}
	return "Approved"
}

// answerData is data, nil when it is empty or null.
func answerData(data json.RawMessage) json.RawMessage {
	d := bytes.TrimSpace(data)
	if len(d) == 0 || string(d) == "null" {
		return nil
	}
	return d
}
