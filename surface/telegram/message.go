package telegram

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/present"
)

// Telegram's limits, and what hitl keeps within them.
const (
	// MaxText is the longest message text, in UTF-16 code units after the HTML is parsed.
	MaxText = 4096
	// textBudget is what a message is cut to, leaving room to spare.
	textBudget = 4000
	// MaxToast is the longest answerCallbackQuery text, in characters.
	MaxToast = 200
	// MaxOptionButtons is the most options a select shows as buttons; a longer list links
	// to the web form.
	MaxOptionButtons = 30
	maxButtonText    = 64
	maxFields        = 20 // context fields shown; the rest are counted
)

// FormPath is the web form of one request under the public URL; package web serves it.
const FormPath = "/inbox/requests/"

// FormURL turns a delivery's respond_url ({public URL}/v1/requests/{id}/respond?token=…,
// the REST API's) into the web form of the same request with the same signed token,
// {public URL}/inbox/requests/{id}?token=…, so the person opens it as the recipient it was
// sent to. It returns "" for anything else.
func FormURL(respondURL string) string {
	u, err := url.Parse(respondURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	i := strings.LastIndex(u.Path, "/v1/requests/")
	if i < 0 {
		return ""
	}
	id, tail, _ := strings.Cut(u.Path[i+len("/v1/requests/"):], "/")
	tok := u.Query().Get("token")
	if id == "" || tail != "respond" || tok == "" {
		return ""
	}
	u.Path, u.RawPath = u.Path[:i]+FormPath+id, ""
	u.RawQuery = url.Values{"token": {tok}}.Encode()
	u.Fragment = ""
	return u.String()
}

// ButtonURL reports whether Telegram takes u as a button's link: http(s) with a host that
// has a dot. A public URL like http://localhost:8080 is refused ("Wrong HTTP URL"), so its
// link goes in the text instead.
func ButtonURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && strings.Contains(p.Hostname(), ".")
}

// Question is the message that asks r, in the Bot API's HTML: the title, the message
// (Markdown shown as Telegram formatting), the context, the proposed action, the due
// time; and its inline keyboard (nil for none). formURL is the request's web form
// (FormURL), "" when there is none: the answers buttons cannot give link there.
func Question(r *events.Request, formURL string) (string, *Keyboard) {
	linkable := formURL != "" && ButtonURL(formURL)
	buttonForm := ""
	if linkable {
		buttonForm = formURL
	}
	kb, formNeeded := buttons(r, buttonForm)
	var tail []string
	if formNeeded && formURL != "" && !linkable {
		lead := "Answer in the browser: "
		if kb != nil {
			lead = "More ways to answer, in the browser: "
		}
		tail = append(tail, lead+escape(formURL))
	}
	if r.Deadline != nil {
		tail = append(tail, "Due "+date(*r.Deadline))
	}
	tail = append(tail, "Request <code>"+escape(r.ID)+"</code>")
	return compose(r, true, nil, strings.Join(tail, "\n")), kb
}

// Resolved is the message after r resolved: the question as it was asked, then how it
// ended, who answered and when. It has no buttons.
func Resolved(r *events.Request) string {
	outcome := Outcome(r)
	if d := detail(r); d != "" {
		outcome += "\n" + d
	}
	var tail []string
	if r.ResolvedAt != nil {
		tail = append(tail, present.StatusWord(r.Status)+" "+date(*r.ResolvedAt))
	}
	tail = append(tail, "Request <code>"+escape(r.ID)+"</code>")
	return compose(r, false, []string{outcome}, strings.Join(tail, "\n"))
}

// compose lays out the head of r (title, message, context, and the proposed action when
// proposed), then the sections, then the tail, cutting the head to what the rest leaves
// of textBudget.
func compose(r *events.Request, proposed bool, sections []string, tail string) string {
	rest := append(append([]string(nil), sections...), tail)
	budget := textBudget - visibleLen(strings.Join(rest, "\n\n")) - 2
	head := headSections(r, budget, proposed)
	return strings.Join(append(head, rest...), "\n\n")
}

func headSections(r *events.Request, budget int, proposed bool) []string {
	var out []string
	add := func(section string) {
		out = append(out, section)
		budget -= visibleLen(section) + 2
	}
	add("<b>" + escape(cut(cmp.Or(oneLine(r.Title), "Question"), min(256, max(budget, 1)))) + "</b>")
	if msg := strings.TrimSpace(r.Message); msg != "" && budget > 20 {
		add(Markdown(cut(msg, min(3000, budget))))
	}
	if len(r.Context) > 0 && budget > 40 {
		keys := make([]string, 0, len(r.Context))
		for k := range r.Context {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var lines []string
		left := budget - 30 // room for "…and N more"
		for i, k := range keys {
			line := "<b>" + escape(cut(oneLine(k), 64)) + "</b>: " + escape(cut(contextValue(r.Context[k]), 300))
			n := visibleLen(line) + 1
			if i == maxFields || n > left {
				lines = append(lines, fmt.Sprintf("<i>…and %d more</i>", len(keys)-i))
				break
			}
			lines = append(lines, line)
			left -= n
		}
		add(strings.Join(lines, "\n"))
	}
	if proposed && len(r.Input.Proposed) > 0 && budget > 60 {
		add("Proposed action:\n" + pre(r.Input.Proposed, min(1500, budget-20)))
	}
	return out
}

func contextValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

// buttons is r's inline keyboard: one button per one-click answer, and links to the web
// form (formURL, "" for none) for the answers that need it. formNeeded reports that some
// answer needs the form.
func buttons(r *events.Request, formURL string) (kb *Keyboard, formNeeded bool) {
	s := r.Input
	cb := func(text, choice string) Button {
		return Button{Text: cut(cmp.Or(oneLine(text), choice), maxButtonText), CallbackData: CallbackData(r.ID, choice)}
	}
	var rows [][]Button
	var last []Button // form links and Skip, on a row of their own
	form := func(text string) {
		formNeeded = true
		if formURL != "" {
			last = append(last, Button{Text: text, URL: formURL})
		}
	}
	switch s.Type {
	case input.Approval:
		approve, reject := s.ApprovalLabels()
		row := []Button{cb(approve, ChoiceApprove)}
		if s.RequireCommentOnReject {
			formNeeded = true
			if formURL != "" {
				row = append(row, Button{Text: cut(oneLine(reject), maxButtonText-1) + "…", URL: formURL})
			}
		} else {
			row = append(row, cb(reject, ChoiceReject))
		}
		rows = append(rows, row)
		if s.Editable() {
			form("Edit…")
		}
	case input.Boolean:
		rows = append(rows, []Button{cb("Yes", ChoiceYes), cb("No", ChoiceNo)})
	case input.Select:
		if n := len(s.Options); n > 0 && n <= MaxOptionButtons {
			per := perRow(s.Options)
			for i := 0; i < n; i += per {
				var row []Button
				for j := i; j < min(i+per, n); j++ {
					o := s.Options[j]
					row = append(row, cb(cmp.Or(o.Label, o.ID), OptionChoice(j)))
				}
				rows = append(rows, row)
			}
			if s.AllowCustom {
				form("Other…")
			}
		} else {
			form("Answer…")
		}
	default:
		form("Answer…")
	}
	if s.Skippable {
		last = append(last, cb("Skip", ChoiceSkip))
	}
	if len(last) > 0 {
		rows = append(rows, last)
	}
	if len(rows) == 0 {
		return nil, formNeeded
	}
	return &Keyboard{InlineKeyboard: rows}, formNeeded
}

// perRow fits short labels three to a row, longer ones two, long ones one.
func perRow(opts []input.Option) int {
	longest := 0
	for _, o := range opts {
		longest = max(longest, utf8.RuneCountInString(oneLine(cmp.Or(o.Label, o.ID))))
	}
	switch {
	case longest <= 10:
		return 3
	case longest <= 20:
		return 2
	}
	return 1
}

// ---- the outcome ----

// Outcome is one line on how r resolved, in HTML: "✅ <b>Approved</b> by
// <code>telegram:123</code>", "⌛ <b>Timed out</b>".
func Outcome(r *events.Request) string {
	v := present.Of(r)
	emoji, word := v.Symbol, v.Word
	line := emoji + " <b>" + word + "</b>"
	if by := Responder(r); by != "" {
		line += " by <code>" + escape(cut(by, 200)) + "</code>"
	}
	return line
}

// Responder is who resolved r: the identity recorded with the answer, "" for hitl itself
// (a timeout, a run's cancellation) or nobody.
func Responder(r *events.Request) string {
	if r.Response == nil {
		return ""
	}
	who := strings.TrimSpace(r.Response.Responder)
	if strings.HasPrefix(who, "hitl:") {
		return ""
	}
	return oneLine(who)
}

// Summary is the outcome in a few plain words: "Approved", "Store credit", "Yes",
// "Timed out".
func Summary(r *events.Request) string {
	word := present.Of(r).Word
	if r.Status != events.StatusAnswered {
		return word
	}
	var v any
	if data := present.Data(r); data != nil && json.Unmarshal(data, &v) == nil {
		switch r.Input.Type {
		case input.Boolean:
			if b, ok := v.(bool); ok {
				return map[bool]string{true: "Yes", false: "No"}[b]
			}
		case input.Select:
			if s, ok := v.(string); ok {
				return cut(oneLine(optionLabel(r.Input.Options, s)), 80)
			}
		}
	}
	return word
}

// detail shows the answer (or the default a timeout used) and the comment, in HTML.
func detail(r *events.Request) string {
	if r.Response == nil {
		return ""
	}
	var parts []string
	if data := present.Data(r); data != nil {
		shown := ShowAnswer(r.Input, data)
		if r.Status == events.StatusTimedOut && shown != "" {
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

func optionLabel(opts []input.Option, id string) string {
	for _, o := range opts {
		if o.ID == id {
			return cmp.Or(o.Label, o.ID)
		}
	}
	return id
}

// ShowAnswer renders an answer to spec for people, in HTML ("" when the outcome line says
// it all, as for a plain approval).
func ShowAnswer(spec input.Spec, data json.RawMessage) string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	bold := func(s string) string { return "<b>" + escape(cut(oneLine(s), 200)) + "</b>" }
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
			out = append(out, "Edited action:\n"+pre(a.Edited, 1000))
		}
		return strings.Join(out, "\n")
	case input.Boolean:
		if b, ok := v.(bool); ok {
			return bold(map[bool]string{true: "Yes", false: "No"}[b])
		}
	case input.Select:
		if s, ok := v.(string); ok {
			return bold(optionLabel(spec.Options, s))
		}
	case input.MultiSelect:
		if list, ok := v.([]any); ok {
			var out []string
			for _, x := range list {
				s, _ := x.(string)
				out = append(out, bold(optionLabel(spec.Options, s)))
			}
			if len(out) == 0 {
				return "<i>nothing picked</i>"
			}
			return strings.Join(out, ", ")
		}
	case input.Text:
		if s, ok := v.(string); ok {
			return quote(s)
		}
	case input.Number:
		return bold(string(data))
	case input.Form:
		if m, ok := v.(map[string]any); ok {
			var out []string
			for _, f := range spec.Fields {
				fv, has := m[f.ID]
				if !has || fv == nil {
					continue
				}
				shown := contextValue(fv)
				if s, ok := fv.(string); ok {
					shown = optionLabel(f.Options, s)
				}
				if b, ok := fv.(bool); ok {
					shown = map[bool]string{true: "Yes", false: "No"}[b]
				}
				out = append(out, "<b>"+escape(cut(oneLine(cmp.Or(f.Name, f.ID)), 64))+"</b>: "+escape(cut(shown, 200)))
			}
			return strings.Join(out, "\n")
		}
	}
	return pre(data, 1000)
}

// ---- text ----

// date is a time as Telegram cannot localise it: UTC, to the minute.
func date(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// escape makes s literal text in the Bot API's HTML: &, < and > are its control characters
// (and " inside attributes).
func escape(s string) string { return escaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }

var escaper = func() *strings.Replacer {
	pairs := []string{"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;"}
	for c := rune(0); c < 0x20; c++ { // control characters other than tab and newlines
		if c != '\t' && c != '\n' && c != '\r' {
			pairs = append(pairs, string(c), "")
		}
	}
	return strings.NewReplacer(pairs...)
}()

var (
	mdCode    = regexp.MustCompile("(?s)```[A-Za-z0-9_+-]*\n(.*?)```|`([^`\n]+)`")
	mdLink    = regexp.MustCompile(`\[([^\]\n<>]+)\]\((https?://[^)\s<>]+)\)`)
	mdBold    = regexp.MustCompile(`\*\*([^*\n<>]+)\*\*|__([^_\n<>]+)__`)
	mdStrike  = regexp.MustCompile(`~~([^~\n<>]+)~~`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$`)
)

// Markdown shows the Markdown of a request's message in the Bot API's HTML: **bold** and
// __bold__, ~~struck~~, `code`, fenced code blocks, [text](https://…) links, and headings
// as bold lines. Everything else is escaped and shown as written. Each conversion works
// on one line and never spans a tag, and links are set aside while the emphasis is
// converted, so the tags it makes always nest and never land inside an attribute.
func Markdown(md string) string {
	md = strings.Map(func(r rune) rune {
		if r >= markHeadOpen && r <= markLinkEnd {
			return -1
		}
		return r
	}, md)
	var b strings.Builder
	last := 0
	for _, m := range mdCode.FindAllStringSubmatchIndex(md, -1) {
		b.WriteString(inline(md[last:m[0]]))
		if m[2] >= 0 {
			b.WriteString("<pre>" + escape(md[m[2]:m[3]]) + "</pre>")
		} else {
			b.WriteString("<code>" + escape(md[m[4]:m[5]]) + "</code>")
		}
		last = m[1]
	}
	b.WriteString(inline(md[last:]))
	return b.String()
}

// Markers Markdown uses while converting (private-use characters, removed from its input).
const (
	markHeadOpen  = '\uE000'
	markHeadClose = '\uE001'
	markLink      = '\uE002'
	markLinkEnd   = '\uE003'
)

var linkMark = regexp.MustCompile("\uE002([0-9]+)\uE003")

func inline(s string) string {
	s = mdHeading.ReplaceAllStringFunc(s, func(line string) string {
		// A heading is a bold line; bold markers inside it would nest bold in bold.
		text := mdHeading.FindStringSubmatch(line)[1]
		text = strings.NewReplacer("**", "", "__", "").Replace(text)
		return string(markHeadOpen) + text + string(markHeadClose)
	})
	s = escape(s)
	var links []string
	s = mdLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := mdLink.FindStringSubmatch(m)
		links = append(links, `<a href="`+sub[2]+`">`+emphasis(sub[1])+"</a>")
		return string(markLink) + strconv.Itoa(len(links)-1) + string(markLinkEnd)
	})
	s = emphasis(s)
	s = linkMark.ReplaceAllStringFunc(s, func(m string) string {
		i, _ := strconv.Atoi(linkMark.FindStringSubmatch(m)[1])
		return links[i]
	})
	return strings.NewReplacer(string(markHeadOpen), "<b>", string(markHeadClose), "</b>").Replace(s)
}

func emphasis(s string) string {
	s = mdBold.ReplaceAllString(s, "<b>$1$2</b>")
	return mdStrike.ReplaceAllString(s, "<s>$1</s>")
}

func quote(s string) string {
	return "<blockquote>" + escape(cut(strings.TrimSpace(s), 1000)) + "</blockquote>"
}

// pre shows JSON indented in a code block, cut to n characters.
func pre(data json.RawMessage, n int) string {
	var buf bytes.Buffer
	if json.Indent(&buf, data, "", "  ") != nil {
		buf.Reset()
		buf.Write(data)
	}
	return `<pre><code class="language-json">` + escape(cut(buf.String(), max(n, 1))) + "</code></pre>"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// cut shortens s to at most n UTF-16 code units (Telegram's measure), ending with "…"
// when it cut.
func cut(s string, n int) string {
	if units(s) <= n {
		return s
	}
	used := 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if used+w > n-1 {
			return s[:i] + "…"
		}
		used += w
	}
	return s
}

func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// visibleLen is the length Telegram counts of HTML that this package made: the text
// without its tags, each entity one character.
func visibleLen(h string) int {
	n := 0
	for i := 0; i < len(h); {
		switch h[i] {
		case '<':
			if j := strings.IndexByte(h[i:], '>'); j >= 0 {
				i += j + 1
				continue
			}
		case '&':
			if j := strings.IndexByte(h[i:], ';'); j >= 0 && j <= 10 {
				n++
				i += j + 1
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(h[i:])
		n += utf16.RuneLen(r)
		i += size
	}
	return n
}
