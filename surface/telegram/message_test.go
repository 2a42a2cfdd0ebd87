package telegram_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/telegramfake"
	"github.com/hitl-dev/hitl/surface/telegram"
)

// parse checks text the way Telegram does and returns what people read.
func parse(t testing.TB, html string) string {
	t.Helper()
	plain, _, err := telegramfake.ParseHTML(html)
	if err != nil {
		t.Fatalf("Telegram would refuse this HTML: %v\n%s", err, html)
	}
	if n := len(utf16.Encode([]rune(plain))); n > telegram.MaxText {
		t.Fatalf("text is %d UTF-16 units, over %d", n, telegram.MaxText)
	}
	return plain
}

func TestMarkdown(t *testing.T) {
	for md, want := range map[string]string{
		"**bold** and __bold__":         "<b>bold</b> and <b>bold</b>",
		"a < b && c > d":                "a &lt; b &amp;&amp; c &gt; d",
		"`x < y` and **z**":             "<code>x &lt; y</code> and <b>z</b>",
		"```\nif a < b {}\n```":         "<pre>if a &lt; b {}\n</pre>",
		"[docs](https://x.io/?a=1&b)":   `<a href="https://x.io/?a=1&amp;b">docs</a>`,
		"[**bold link**](https://x.io)": `<a href="https://x.io"><b>bold link</b></a>`,
		"# Heading **with bold**":       "<b>Heading with bold</b>",
		"~~gone~~":                      "<s>gone</s>",
		"[x](javascript:alert(1))":      "[x](javascript:alert(1))",
		`say "hi"`:                      "say &quot;hi&quot;",
	} {
		if got := telegram.Markdown(md); got != want {
			t.Errorf("Markdown(%q) = %q, want %q", md, got, want)
		}
	}
}

// TestMessagesTelegramTakes sends hostile and oversized requests through Question and
// Resolved: the HTML always parses and fits.
func TestMessagesTelegramTakes(t *testing.T) {
	hostile := []string{
		"**a [b** c](https://x.io)", "[t](https://x.io/**a**)", "**a ~~b** c~~", "~~a **b~~ c**",
		"<b>not a tag</b> & &amp; &#x41; <", "# **", "```go\nunclosed", "`a``b`", "\x00\x01\ue000\ue002 0\ue003",
		"[a](https://x.io) **[b](https://y.io)**", "__**x**__", "# [link](https://x.io) ~~s~~",
		strings.Repeat("😀", 5000), strings.Repeat("**b** ", 1500), strings.Repeat("&<>\"", 3000),
	}
	ctx := map[string]any{}
	for i := range 40 {
		ctx[fmt.Sprintf("field %02d <&>", i)] = strings.Repeat("v&<", 200)
	}
	now := time.Now()
	for i, msg := range hostile {
		r := &events.Request{ID: "2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88", Title: msg, Message: msg, Context: ctx, Deadline: &now,
			Input: input.Spec{Type: input.Approval, Proposed: json.RawMessage(`{"note":"` + strings.Repeat("<&>", 900) + `"}`)}}
		text, _ := telegram.Question(r, publicURL+"/inbox/requests/x?token=t")
		plain := parse(t, text)
		if !strings.Contains(plain, "Request "+r.ID) {
			t.Errorf("hostile %d: the request id was cut off:\n%s", i, plain)
		}
		r.Status, r.ResolvedAt = events.StatusAnswered, &now
		r.Response = &events.Response{Data: json.RawMessage(`{"approved":false,"comment":"` + strings.Repeat("<no> & ", 500) + `"}`),
			Responder: msg, Comment: msg}
		plain = parse(t, telegram.Resolved(r))
		if !strings.Contains(plain, "❌ Rejected by ") || !strings.Contains(plain, "Request "+r.ID) {
			t.Errorf("hostile %d: the outcome was cut off:\n%s", i, plain)
		}
	}
}

func FuzzQuestion(f *testing.F) {
	f.Add("Deploy?", "**12 files** [diff](https://x.io)", "risk", "<low>")
	f.Add("# a", "```\n<>\n```", "&", "&amp;")
	f.Fuzz(func(t *testing.T, title, message, key, value string) {
		r := &events.Request{ID: "2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88", Title: title, Message: message,
			Context: map[string]any{key: value}, Input: input.Spec{Type: input.Select, Options: []input.Option{{ID: value, Label: title}}}}
		text, _ := telegram.Question(r, "")
		if _, _, err := telegramfake.ParseHTML(text); err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
	})
}

func TestFormURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hitl.example.com/v1/requests/abc/respond?token=t.k":     "https://hitl.example.com/inbox/requests/abc?token=t.k",
		"https://example.com/hitl/v1/requests/abc/respond?token=a%2Bb":   "https://example.com/hitl/inbox/requests/abc?token=a%2Bb",
		"http://localhost:8080/v1/requests/abc/respond?token=t&x=1#frag": "http://localhost:8080/inbox/requests/abc?token=t",
		"https://hitl.example.com/v1/requests/abc/respond":               "",
		"https://hitl.example.com/v1/requests/abc?token=t":               "",
		"/v1/requests/abc/respond?token=t":                               "",
		"":                                                               "",
	} {
		if got := telegram.FormURL(in); got != want {
			t.Errorf("FormURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLocalFormLinkGoesInTheText: Telegram refuses buttons that link to a host without a
// dot (http://localhost:8080 under `hitl dev`), so the link is in the text.
func TestLocalFormLinkGoesInTheText(t *testing.T) {
	local := "http://localhost:8080/inbox/requests/x?token=t"
	r := &events.Request{ID: "2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88", Title: "Why?", Input: input.Spec{Type: input.Text}}
	text, kb := telegram.Question(r, local)
	if kb != nil {
		t.Fatalf("a keyboard for a local link: %+v", kb)
	}
	if plain := parse(t, text); !strings.Contains(plain, "Answer in the browser: "+local) {
		t.Fatalf("no link in the text:\n%s", plain)
	}
	r.Input = input.Spec{Type: input.Approval, RequireCommentOnReject: true}
	text, kb = telegram.Question(r, local)
	if plain := parse(t, text); kb == nil || !strings.Contains(plain, "More ways to answer, in the browser: "+local) {
		t.Fatalf("approval with a local link:\n%s\n%+v", plain, kb)
	}
	if !telegram.ButtonURL("https://hitl.example.com/x") || telegram.ButtonURL(local) || telegram.ButtonURL("ftp://a.b/c") {
		t.Fatal("ButtonURL")
	}
}

func TestManyOptionsLinkToTheForm(t *testing.T) {
	var opts []input.Option
	for i := range telegram.MaxOptionButtons + 1 {
		opts = append(opts, input.Option{ID: fmt.Sprint(i)})
	}
	r := &events.Request{ID: "2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88", Title: "Pick", Input: input.Spec{Type: input.Select, Options: opts}}
	_, kb := telegram.Question(r, publicURL+"/inbox/requests/x?token=t")
	b, _ := json.Marshal(kb)
	if !strings.Contains(string(b), `"text":"Answer…","url":"https://hitl.example.com/inbox/requests/x?token=t"`) || strings.Contains(string(b), "callback_data") {
		t.Fatalf("keyboard %s", b)
	}
	r.Input.Options = opts[:telegram.MaxOptionButtons]
	_, kb = telegram.Question(r, "")
	b, _ = json.Marshal(kb)
	if n := strings.Count(string(b), "callback_data"); n != telegram.MaxOptionButtons {
		t.Fatalf("%d option buttons: %s", n, b)
	}
}
