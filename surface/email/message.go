package email

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	htmltemplate "html/template"
	"net/url"
	"sort"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/linktoken"
)

// ActionPath is where action links point, under the public URL; Links serves it.
const ActionPath = "/email/act"

// FormPath is the web form of one request, under the public URL ("/inbox/requests/{id}").
const FormPath = "/inbox/requests/"

//go:embed templates/mail
var templateFS embed.FS

var (
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").ParseFS(templateFS, "templates/mail/*.html.tmpl"))
	textTemplates = template.Must(template.New("").ParseFS(templateFS, "templates/mail/*.txt.tmpl"))
)

// Button styles: inline, because many mail clients drop <style>.
const (
	buttonBase = "display:inline-block;margin:0 8px 8px 0;padding:12px 24px;border-radius:6px;" +
		"font-size:16px;line-height:20px;font-weight:600;text-decoration:none;"
	stylePrimary = buttonBase + "background-color:#1a7f37;border:1px solid #1a7f37;color:#ffffff;"
	styleDanger  = buttonBase + "background-color:#b42318;border:1px solid #b42318;color:#ffffff;"
	styleNeutral = buttonBase + "background-color:#ffffff;border:1px solid #8c959f;color:#1f2328;"
	styleForm    = buttonBase + "background-color:#0b57d0;border:1px solid #0b57d0;color:#ffffff;"
	styleLink    = "display:inline-block;margin:0 0 8px 0;padding:12px 0;font-size:15px;line-height:20px;color:#0b57d0;text-decoration:underline;"
)

func toneStyle(tone string) htmltemplate.CSS {
	switch tone {
	case "primary":
		return stylePrimary
	case "danger":
		return styleDanger
	}
	return styleNeutral
}

// Field is one context entry as emails and pages show it.
type Field struct{ Key, Value string }

type actionLink struct {
	Label, Description, URL string
	Style                   htmltemplate.CSS
}

// requestView is what the request email shows.
type requestView struct {
	Subject, Preheader, Kind, Title, Message string
	Context                                  []Field
	Proposed                                 string
	Actions                                  []actionLink
	FormURL, FormLabel                       string
	FormStyle                                htmltemplate.CSS
	Deadline, Recipient, RequestID           string
}

// resolvedView is what the follow-up shows.
type resolvedView struct {
	Subject, Title, Sentence, Comment, Recipient, RequestID string
}

// content is a rendered email.
type content struct {
	subject, text, html string
}

// requestContent renders the email that asks recipient (an address) to answer r, with
// links whose tokens are signed for "email:<recipient>" until exp (unix seconds).
func (c *Channel) requestContent(r *events.Request, recipient string, exp int64) (content, error) {
	subject := Subject(r)
	v := requestView{Subject: subject, Kind: kindLine(r.Input), Title: oneLine(r.Title), Message: strings.TrimSpace(r.Message),
		Recipient: recipient, RequestID: r.ID, Context: ContextFields(r.Context)}
	if r.Deadline != nil {
		v.Deadline = FormatTime(*r.Deadline)
	}
	if len(r.Input.Proposed) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, r.Input.Proposed, "", "  ") == nil {
			v.Proposed = buf.String()
		}
	}
	subjectID := "email:" + recipient
	for _, a := range Actions(r.Input) {
		tok, err := linktoken.Sign(c.cfg.LinkSecret, linktoken.Claims{RequestID: r.ID, Subject: subjectID, Expires: exp, Option: a.Option})
		if err != nil {
			return content{}, err
		}
		v.Actions = append(v.Actions, actionLink{Label: a.Label, Description: a.Description, Style: toneStyle(a.Tone),
			URL: c.cfg.PublicURL + ActionPath + "?token=" + url.QueryEscape(tok)})
	}
	editable := r.Input.Type == input.Approval && (len(r.Input.Proposed) > 0 || len(r.Input.ActionSchema) > 0)
	if len(v.Actions) == 0 || editable {
		tok, err := linktoken.Sign(c.cfg.LinkSecret, linktoken.Claims{RequestID: r.ID, Subject: subjectID, Expires: exp})
		if err != nil {
			return content{}, err
		}
		v.FormURL = c.cfg.PublicURL + FormPath + url.PathEscape(r.ID) + "?token=" + url.QueryEscape(tok)
		v.FormLabel, v.FormStyle = "Answer in your browser", styleForm
		if editable {
			v.FormLabel, v.FormStyle = "Review or edit in your browser", styleLink
		}
	}
	v.Preheader = preheader(r, v)
	return render("request", v)
}

// resolvedContent renders the short follow-up sent once r is resolved.
func (c *Channel) resolvedContent(r *events.Request, recipient string) (content, error) {
	d := Decided(r)
	v := resolvedView{Subject: "Re: " + Subject(r), Title: oneLine(r.Title), Sentence: capitalize(d.String()) + ".",
		Comment: d.Comment, Recipient: recipient, RequestID: r.ID}
	return render("resolved", v)
}

func render(name string, v any) (content, error) {
	var h, t bytes.Buffer
	if err := htmlTemplates.ExecuteTemplate(&h, name+".html.tmpl", v); err != nil {
		return content{}, err
	}
	if err := textTemplates.ExecuteTemplate(&t, name+".txt.tmpl", v); err != nil {
		return content{}, err
	}
	subject := ""
	switch v := v.(type) {
	case requestView:
		subject = v.Subject
	case resolvedView:
		subject = v.Subject
	}
	return content{subject: subject, text: t.String(), html: h.String()}, nil
}

// Subject is the subject line of a request's email: "[hitl] <title>".
func Subject(r *events.Request) string { return "[hitl] " + truncate(oneLine(r.Title), 150) }

func kindLine(s input.Spec) string {
	switch s.Type {
	case input.Approval:
		return "Approval requested"
	case input.Boolean, input.Select:
		return "Your decision is needed"
	}
	return "Your answer is needed"
}

func preheader(r *events.Request, v requestView) string {
	if m := oneLine(r.Message); m != "" {
		return truncate(m, 120)
	}
	labels := make([]string, len(v.Actions))
	for i, a := range v.Actions {
		labels[i] = a.Label
	}
	if len(labels) > 0 {
		return strings.Join(labels, " / ")
	}
	return v.Kind
}

// ContextFields lists a request's context sorted by key; values that are not strings are
// shown as compact JSON.
func ContextFields(ctx map[string]any) []Field {
	out := make([]Field, 0, len(ctx))
	for k, v := range ctx {
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				continue
			}
			s = string(b)
		}
		out = append(out, Field{Key: k, Value: truncate(s, 1000)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// oneLine folds whitespace runs (newlines included) into single spaces: titles and subjects
// must not break lines.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// messageID is the Message-ID of the email about request id to recipient (phase "request"
// or "resolved"): the same on every retry, so receivers can drop a duplicate, and the
// follow-up can name the request's email in In-Reply-To.
func messageID(requestID, recipient, phase, domain string) string {
	h := sha256.Sum256([]byte(strings.ToLower(recipient)))
	return "hitl." + requestID + "." + hex.EncodeToString(h[:6]) + "." + phase + "@" + domain
}
