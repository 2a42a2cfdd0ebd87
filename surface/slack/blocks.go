package slack

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/present"
)

// Action ids of the buttons: "hitl:<request id>:<choice>". The choice is one of the
// Choice constants, or ChoiceOption followed by the option's index; the button's value
// carries the choice itself ("approve", "true", the option id).
const (
	ChoiceApprove = "approve"
	ChoiceReject  = "reject"
	ChoiceYes     = "yes"
	ChoiceNo      = "no"
	ChoiceSkip    = "skip"
	ChoiceOption  = "opt-"
	// ChoiceForm opens the modal; ChoiceFormReject opens it with "reject" picked (a
	// rejection that needs a comment).
	ChoiceForm       = "form"
	ChoiceFormReject = "form-reject"
)

const actionPrefix = "hitl:"

// ActionID is the action_id of a button answering request id with choice.
func ActionID(requestID, choice string) string { return actionPrefix + requestID + ":" + choice }

// ParseActionID splits an action_id made by ActionID; ok is false for any other.
func ParseActionID(actionID string) (requestID, choice string, ok bool) {
	rest, found := strings.CutPrefix(actionID, actionPrefix)
	if !found {
		return "", "", false
	}
	requestID, choice, ok = strings.Cut(rest, ":")
	return requestID, choice, ok && requestID != "" && choice != ""
}

// Block ids of the messages.
const (
	BlockTitle   = "hitl.title"
	BlockMessage = "hitl.message"
	BlockContext = "hitl.context" // + index: the request's context fields, 10 a section
	BlockActions = "hitl.actions"
	BlockOutcome = "hitl.outcome"
	BlockFooter  = "hitl.footer"
)

// Slack's limits.
const (
	maxHeader      = 150
	maxSectionText = 3000
	maxField       = 2000
	maxButtonText  = 75
	maxButtonValue = 2000
	maxOptionBtns  = 20 // option buttons in one message; more go to the modal
	maxFields      = 20 // context fields shown; the rest are counted
)

// RequestBlocks is the message that asks r: title, message, context fields, the due time,
// and the buttons that answer it.
func RequestBlocks(r *events.Request) []slackgo.Block {
	blocks := head(r)
	blocks = append(blocks, slackgo.NewActionBlock(BlockActions, buttons(r)...))
	footer := []slackgo.MixedElement{}
	if r.Deadline != nil {
		footer = append(footer, mrkdwn("Due "+Date(*r.Deadline)))
	}
	footer = append(footer, mrkdwn("Request `"+r.ID+"`"))
	return append(blocks, slackgo.NewContextBlock(BlockFooter, footer...))
}

// ResolvedBlocks is the message after r resolved: the question as it was asked, then how it
// ended, who answered and when. No buttons.
func ResolvedBlocks(r *events.Request) []slackgo.Block {
	blocks := head(r)
	text := Outcome(r)
	if d := detail(r); d != "" {
		text += "\n" + d
	}
	blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(truncate(text, maxSectionText)), nil, nil,
		slackgo.SectionBlockOptionBlockID(BlockOutcome)))
	footer := []slackgo.MixedElement{}
	if r.ResolvedAt != nil {
		footer = append(footer, mrkdwn(present.StatusWord(r.Status)+" "+Date(*r.ResolvedAt)))
	}
	footer = append(footer, mrkdwn("Request `"+r.ID+"`"))
	return append(blocks, slackgo.NewContextBlock(BlockFooter, footer...))
}

func head(r *events.Request) []slackgo.Block {
	blocks := []slackgo.Block{
		slackgo.NewHeaderBlock(slackgo.NewTextBlockObject(slackgo.PlainTextType, truncate(cmp.Or(oneLine(r.Title), "Question"), maxHeader), true, false),
			slackgo.HeaderBlockOptionBlockID(BlockTitle)),
	}
	if strings.TrimSpace(r.Message) != "" {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(truncate(Mrkdwn(r.Message), maxSectionText)), nil, nil,
			slackgo.SectionBlockOptionBlockID(BlockMessage)))
	}
	keys := make([]string, 0, len(r.Context))
	for k := range r.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var fields []*slackgo.TextBlockObject
	for i, k := range keys {
		if i == maxFields {
			fields[len(fields)-1] = mrkdwn(fmt.Sprintf("_and %d more_", len(keys)-maxFields+1))
			break
		}
		fields = append(fields, mrkdwn(truncate("*"+Escape(k)+"*\n"+contextValue(r.Context[k]), maxField)))
	}
	for i := 0; i < len(fields); i += 10 {
		blocks = append(blocks, slackgo.NewSectionBlock(nil, fields[i:min(i+10, len(fields))], nil,
			slackgo.SectionBlockOptionBlockID(BlockContext+strconv.Itoa(i/10))))
	}
	return blocks
}

func contextValue(v any) string {
	if s, ok := v.(string); ok {
		return cmp.Or(Escape(s), " ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return Escape(string(b))
}

func buttons(r *events.Request) []slackgo.BlockElement {
	s := r.Input
	btn := func(choice, value, text string, style slackgo.Style) slackgo.BlockElement {
		b := slackgo.NewButtonBlockElement(ActionID(r.ID, choice), value,
			slackgo.NewTextBlockObject(slackgo.PlainTextType, truncate(cmp.Or(oneLine(text), value), maxButtonText), true, false))
		return b.WithStyle(style)
	}
	var els []slackgo.BlockElement
	form := false
	switch s.Type {
	case input.Approval:
		approve, reject := s.ApprovalLabels()
		els = append(els, btn(ChoiceApprove, "approve", approve, slackgo.StylePrimary))
		if s.RequireCommentOnReject {
			els = append(els, btn(ChoiceFormReject, "reject", reject+"…", slackgo.StyleDanger))
		} else {
			els = append(els, btn(ChoiceReject, "reject", reject, slackgo.StyleDanger))
		}
		if s.Editable() {
			els = append(els, btn(ChoiceForm, "", "Edit…", slackgo.StyleDefault))
		}
	case input.Boolean:
		els = append(els, btn(ChoiceYes, "true", "Yes", slackgo.StyleDefault), btn(ChoiceNo, "false", "No", slackgo.StyleDefault))
	case input.Select:
		fit := len(s.Options) <= maxOptionBtns
		for i, o := range s.Options {
			if utf8.RuneCountInString(o.ID) > maxButtonValue {
				fit = false
			}
			if fit {
				els = append(els, btn(ChoiceOption+strconv.Itoa(i), o.ID, cmp.Or(o.Label, o.ID), slackgo.StyleDefault))
			}
		}
		if !fit {
			els = nil
		}
		form = !fit || s.AllowCustom
	default:
		form = true
	}
	if form {
		text := "Answer…"
		if s.Type == input.Select {
			text = "Other…"
			if len(els) == 0 {
				text = "Answer…"
			}
		}
		els = append(els, btn(ChoiceForm, "", text, slackgo.StylePrimary))
	}
	if s.Skippable {
		els = append(els, btn(ChoiceSkip, "null", "Skip", slackgo.StyleDefault))
	}
	return els
}

// ---- the outcome ----

// Outcome is one line on how r resolved, in mrkdwn: "✅ *Approved* by
// <@U0123ABCD>", "⌛ *Timed out*".
func Outcome(r *events.Request) string {
	v := present.Of(r)
	emoji, word := v.Symbol, v.Word
	line := emoji + " *" + word + "*"
	if by := Responder(r); by != "" {
		line += " by " + by
	}
	return line
}

// Responder is who resolved r, for mrkdwn: a Slack mention for "slack:@U…", the identity
// otherwise, "" for hitl itself (a timeout, a run's cancellation) or nobody.
// slackUserID is the shape of a Slack user id; anything else is shown as text, never as a
// mention (a responder name like "slack:@U1> <!channel>" must not ping anyone).
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{1,20}$`)

func Responder(r *events.Request) string {
	if r.Response == nil {
		return ""
	}
	who := r.Response.Responder
	switch {
	case who == "" || strings.HasPrefix(who, "hitl:"):
		return ""
	case strings.HasPrefix(who, "slack:@") && slackUserID.MatchString(strings.TrimPrefix(who, "slack:@")):
		return "<@" + strings.TrimPrefix(who, "slack:@") + ">"
	}
	return "`" + strings.ReplaceAll(Escape(who), "`", "'") + "`"
}

// detail shows the answer (or the default a timeout used) and the comment, in mrkdwn.
func detail(r *events.Request) string {
	if r.Response == nil {
		return ""
	}
	var parts []string
	data := present.Data(r)
	if data != nil {
		shown := ShowAnswer(r.Input, data)
		if r.Status == events.StatusTimedOut {
			shown = "Default answer: " + shown
		}
		if shown != "" {
			parts = append(parts, shown)
		}
	}
	if c := strings.TrimSpace(r.Response.Comment); c != "" {
		parts = append(parts, quote(c))
	}
	return strings.Join(parts, "\n")
}

// ShowAnswer renders an answer to spec for people, in mrkdwn ("" when the headline says it
// all, as for a plain approval).
func ShowAnswer(spec input.Spec, data json.RawMessage) string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	label := func(id string) string {
		for _, o := range spec.Options {
			if o.ID == id {
				return "*" + Escape(cmp.Or(o.Label, o.ID)) + "*"
			}
		}
		return "*" + Escape(id) + "*"
	}
	switch spec.Type {
	case input.Approval:
		var a input.ApprovalAnswer
		if json.Unmarshal(data, &a) != nil {
			return ""
		}
		var out []string
		if c := strings.TrimSpace(a.Comment); c != "" {
			out = append(out, quote(c))
		}
		if len(a.Edited) > 0 {
			out = append(out, "Edited action:\n"+codeBlock(a.Edited))
		}
		return strings.Join(out, "\n")
	case input.Boolean:
		if b, ok := v.(bool); ok {
			if b {
				return "*Yes*"
			}
			return "*No*"
		}
	case input.Select:
		if s, ok := v.(string); ok {
			return label(s)
		}
	case input.MultiSelect:
		if list, ok := v.([]any); ok {
			var out []string
			for _, x := range list {
				s, _ := x.(string)
				out = append(out, label(s))
			}
			if len(out) == 0 {
				return "_nothing picked_"
			}
			return strings.Join(out, ", ")
		}
	case input.Text:
		if s, ok := v.(string); ok {
			return quote(s)
		}
	case input.Number:
		return "*" + string(data) + "*"
	case input.Form:
		if m, ok := v.(map[string]any); ok {
			var out []string
			for _, f := range spec.Fields {
				fv, has := m[f.ID]
				if !has || fv == nil {
					continue
				}
				shown := contextValue(fv)
				for _, o := range f.Options {
					if s, ok := fv.(string); ok && o.ID == s {
						shown = Escape(cmp.Or(o.Label, o.ID))
					}
				}
				if b, ok := fv.(bool); ok {
					shown = map[bool]string{true: "Yes", false: "No"}[b]
				}
				out = append(out, "*"+Escape(cmp.Or(f.Name, f.ID))+"*: "+shown)
			}
			return strings.Join(out, "\n")
		}
	}
	return codeBlock(data)
}

// ---- text ----

// Date is a Slack date token: shown in each reader's time zone, with a UTC fallback.
func Date(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// Escape makes s literal text for Slack: &, < and > are its control characters.
func Escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

var (
	mdLink    = regexp.MustCompile(`\[([^\]\n]+)\]\((https?://[^)\s]+)\)`)
	mdBold    = regexp.MustCompile(`\*\*([^*\n]+)\*\*|__([^_\n]+)__`)
	mdStrike  = regexp.MustCompile(`~~([^~\n]+)~~`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$`)
)

// Mrkdwn converts the Markdown of a request's message to Slack's mrkdwn: **bold** and
// __bold__ to *bold*, ~~struck~~ to ~struck~, [text](url) to <url|text>, headings to bold
// lines; code spans, code blocks, lists and > quotes read the same in both. Other text is
// escaped.
func Mrkdwn(md string) string {
	s := Escape(md)
	s = mdLink.ReplaceAllString(s, "<$2|$1>")
	s = mdBold.ReplaceAllString(s, "*$1$2*")
	s = mdStrike.ReplaceAllString(s, "~$1~")
	s = mdHeading.ReplaceAllString(s, "*$1*")
	return strings.ReplaceAll(s, "\n&gt; ", "\n> ") // quotes survive escaping
}

func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, false)
}

func quote(s string) string {
	lines := strings.Split(truncate(s, 1500), "\n")
	for i, l := range lines {
		lines[i] = "> " + Escape(l)
	}
	return strings.Join(lines, "\n")
}

func codeBlock(data json.RawMessage) string {
	var buf bytes.Buffer
	if json.Indent(&buf, data, "", "  ") != nil {
		buf.Reset()
		buf.Write(data)
	}
	s := truncate(buf.String(), 1200)
	return "```" + Escape(strings.ReplaceAll(s, "```", "'''")) + "```"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncate cuts s to at most n characters, ending with "…" when cut.
func truncate(s string, n int) string { return input.Truncate(s, n) }

// fallbackText is the message's notification text (shown where blocks are not).
func fallbackText(r *events.Request, resolved bool) string {
	t := Escape(truncate(cmp.Or(oneLine(r.Title), "Question"), 300))
	if resolved {
		word := present.Of(r).Word
		return t + ": " + word
	}
	return t
}
