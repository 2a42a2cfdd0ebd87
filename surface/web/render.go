package web

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/present"
)

//go:embed templates/*.html static/*
var assets embed.FS

// pages are parsed once: each page template with the layout and the form controls.
var pages = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	names, err := fs.Glob(assets, "templates/page_*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		t := template.Must(template.New("").ParseFS(assets, "templates/layout.html", "templates/controls.html", n))
		m[strings.TrimSuffix(strings.TrimPrefix(n, "templates/page_"), ".html")] = t
	}
	return m
}()

var styleCSS = func() []byte {
	b, err := assets.ReadFile("static/style.css")
	if err != nil {
		panic(err)
	}
	return b
}()

// page is what every template gets.
type page struct {
	Title string
	// Who is the viewer, as shown in the header ("" when nobody is signed in).
	Who string
	// Inbox links to the viewer's inbox (with their link token, if any).
	Inbox string
	// Logout is the CSRF token of the sign-out button; empty: no button.
	Logout string

	List    *listView
	Request *requestView
	Login   *loginView
	Message *messageView
}

type listView struct {
	Items    []listItem
	Operator bool
	// The filters (an operator's inbox): the status listed, an assignee, a title search.
	Status, Assignee, Query string
	Statuses                []statusChoice
	Filtered                bool
	// Links to the next, previous and first pages ("" when there is none). More: there is
	// a next page; Further: this page is short because the scan stopped, so the next link
	// searches further.
	Next, Prev, First string
	More, Further     bool
}

type listItem struct {
	URL, Title, AskedBy, Status string
	Asked, Due                  *timeView
}

type requestView struct {
	Title   string
	Message template.HTML
	Context []pair
	AskedBy string
	Asked   *timeView
	Due     *timeView
	// As is the identity the answer will be recorded under.
	As      string
	Form    *formView
	Outcome *outcomeView
	// Notice is shown above the outcome: why there is no form (e.g. already decided).
	Notice string
}

type outcomeView struct {
	Heading string
	Text    string // "Answered by alice" etc.
	By      string
	You     bool
	At      *timeView
	Answer  *answerView
	Comment string
}

// answerView shows an answer the way it was asked: one of Text, Items, Pairs or JSON.
type answerView struct {
	Text  string
	Items []string
	Pairs []pair
	JSON  string
	Empty string // e.g. "Skipped", "None chosen"
}

type pair struct{ Key, Value string }

type loginView struct {
	CSRF, Next, Error string
	NeedToken         bool
	Name              string
}

type messageView struct {
	Heading string
	Lines   []string
	// Login offers the sign-in page.
	Login bool
}

type timeView struct {
	ISO, Text, Rel string
}

func when(t time.Time, now time.Time) *timeView {
	if t.IsZero() {
		return nil
	}
	return &timeView{ISO: t.UTC().Format(time.RFC3339), Text: t.UTC().Format("2 Jan 2006, 15:04 UTC"), Rel: relative(t, now)}
}

// relative says how far t is from now: "5 minutes ago", "in 3 hours".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		if future {
			return "in less than a minute"
		}
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// paragraphs renders a message safely: everything is escaped; blank lines separate
// paragraphs and single line breaks are kept. No other markdown is interpreted.
func paragraphs(md string) template.HTML {
	md = strings.ReplaceAll(strings.TrimSpace(md), "\r\n", "\n")
	if md == "" {
		return ""
	}
	var b strings.Builder
	for _, para := range strings.Split(md, "\n\n") {
		para = strings.Trim(para, "\n")
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			b.WriteString(template.HTMLEscapeString(line))
		}
		b.WriteString("</p>\n")
	}
	return template.HTML(b.String()) //nolint:gosec // every piece of text above is escaped
}

// contextPairs lists a request's context, keys sorted; values that are not strings are
// shown as JSON.
func contextPairs(ctx map[string]any) []pair {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]pair, 0, len(keys))
	for _, k := range keys {
		out = append(out, pair{Key: k, Value: display(ctx[k])})
	}
	return out
}

func display(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "—"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func askedBy(r *events.Request) string {
	if r.Workflow != "" {
		return "workflow " + r.Workflow
	}
	if r.RunID != "" {
		return "a workflow run"
	}
	return "the API"
}

// outcome describes a resolved request.
func outcome(r *events.Request, v viewer, now time.Time) *outcomeView {
	o := &outcomeView{}
	resp := r.Response
	at := r.ResolvedAt
	if resp != nil && at == nil {
		at = &resp.At
	}
	if at != nil {
		o.At = when(*at, now)
	}
	pv := present.Of(r) // the verdict word and who decided, as on every surface
	o.Heading, o.By = pv.Word, pv.By
	switch r.Status {
	case events.StatusAnswered:
		if resp != nil {
			o.You = resp.Responder != "" && resp.Responder == v.responder()
			o.Answer = describeAnswer(r.Input, resp.Data)
			o.Comment = resp.Comment
		}
	case events.StatusTimedOut:
		o.Text = "No answer came before the deadline; hitl decided, not a person."
		if resp != nil && len(resp.Data) > 0 {
			o.Text += " The default answer was used:"
			o.Answer = describeAnswer(r.Input, resp.Data)
		}
	case events.StatusCancelled:
		if resp != nil {
			o.Comment = resp.Comment
		}
	}
	return o
}

// describeAnswer shows an answer in the terms of its question: option labels instead of
// ids, Yes and No, form fields by name.
func describeAnswer(spec input.Spec, data json.RawMessage) *answerView {
	if t := bytes.TrimSpace(data); len(t) == 0 || string(t) == "null" {
		return &answerView{Empty: "Skipped: no answer was given."}
	}
	label := func(opts []input.Option, id string) string {
		for _, o := range opts {
			if o.ID == id {
				return cmp.Or(o.Label, o.ID)
			}
		}
		return "Other: " + id
	}
	switch spec.Type {
	case input.Approval:
		var a input.ApprovalAnswer
		if json.Unmarshal(data, &a) == nil {
			yes, no := approvalLabels(spec)
			av := &answerView{Text: no + " (rejected)"}
			if a.Approved {
				av.Text = yes + " (approved)"
			}
			if a.Comment != "" {
				av.Pairs = append(av.Pairs, pair{"Comment", a.Comment})
			}
			if len(a.Edited) > 0 {
				av.Text += ", with edits"
				av.JSON = pretty(a.Edited)
			}
			return av
		}
	case input.Boolean:
		var b bool
		if json.Unmarshal(data, &b) == nil {
			return &answerView{Text: yesNo(b)}
		}
	case input.Text:
		var s string
		if json.Unmarshal(data, &s) == nil {
			if s == "" {
				return &answerView{Empty: "An empty answer."}
			}
			return &answerView{Text: s}
		}
	case input.Number:
		return &answerView{Text: string(bytes.TrimSpace(data))}
	case input.Select:
		var s string
		if json.Unmarshal(data, &s) == nil {
			return &answerView{Text: label(spec.Options, s)}
		}
	case input.MultiSelect:
		var ids []string
		if json.Unmarshal(data, &ids) == nil {
			if len(ids) == 0 {
				return &answerView{Empty: "None chosen."}
			}
			av := &answerView{}
			for _, id := range ids {
				av.Items = append(av.Items, label(spec.Options, id))
			}
			return av
		}
	case input.Form:
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) == nil {
			av := &answerView{}
			for _, fd := range spec.Fields {
				raw, ok := m[fd.ID]
				if !ok || string(raw) == "null" {
					continue
				}
				var v any
				_ = json.Unmarshal(raw, &v)
				text := display(v)
				switch x := v.(type) {
				case bool:
					text = yesNo(x)
				case string:
					if fd.Type == input.FieldSelect {
						text = label(fd.Options, x)
					}
				}
				av.Pairs = append(av.Pairs, pair{cmp.Or(fd.Name, fd.ID), text})
			}
			if len(av.Pairs) == 0 {
				av.Empty = "No fields were filled in."
			}
			return av
		}
	}
	return &answerView{JSON: pretty(data)}
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// render writes a page with status. Pages are never cached: they hold tokens and answers.
func (s *Server) render(w http.ResponseWriter, status int, name string, p *page) {
	var b bytes.Buffer
	if err := pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		s.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
