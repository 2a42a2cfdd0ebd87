package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/user"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

const respondAbout = `Answer a request. With --data, --approve or --reject the answer is sent as given; without
them the request is shown and the answer asked for in the terminal, field by field:

  approval     y or n (or e: edit the proposed action, then approve), then a comment
  select       the number of a choice (or its id; or your own text when the question allows it)
  multiselect  numbers or ids separated by commas; Enter for none
  text         a line (or lines ending with a line holding only "." when multiline)
  number       a number; boolean: y or n
  form         each field in turn; Enter leaves out an optional one
  json         JSON matching the schema shown, on one line or pasted over several

"skip" skips a skippable question (answers null); ":json" at any prompt types the whole
answer as JSON, as does a question of a type this version does not know. The answer is
checked before it is sent; if the server refuses it, each failing field is shown and the
question asked again.`

// respond runs `hitl respond ID`.
func (c *cli) respond(ctx context.Context, args []string) error {
	cmd := c.command("respond", "ID", respondAbout)
	data := cmd.fs.String("data", "", "the answer as `JSON`, inline, @file, or - for stdin: '\"approve\"', '{\"approved\": true}', '[\"email\"]'")
	approve := cmd.fs.Bool("approve", false, "approve an approval request")
	reject := cmd.fs.Bool("reject", false, "reject an approval request")
	comment := cmd.fs.String("comment", "", "a comment: an approval's comment, else kept with the response")
	responder := cmd.fs.String("responder", "", "who answers (default: env HITL_RESPONDER, else your user name)")
	noCheck := cmd.fs.Bool("no-check", false, "send the answer without checking it locally first (the server always checks)")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	modes := 0
	for _, set := range []bool{*data != "", *approve, *reject} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		return usagef(cmd.name, "use one of --data, --approve and --reject")
	}
	var given json.RawMessage
	if *data != "" {
		if given, err = c.readJSON(cmd.name, "--data", *data); err != nil {
			return err
		}
	}
	id := pos[0]
	api, err := cmd.client()
	if err != nil {
		return err
	}
	req, err := api.Request(ctx, id)
	if err != nil {
		return explain(err, "request", id)
	}
	if req.Resolved() {
		return alreadyResolved(req)
	}
	// Check locally only what this version fully understands; the server decides the rest.
	unknown := unknownSettings(cmd.rec.last())
	check := !*noCheck && req.Input.Check() == nil && len(unknown) == 0
	r := responding{cli: c, cmd: cmd, api: api, req: req, check: check,
		responder: cmp.Or(*responder, c.getenv("HITL_RESPONDER"), userName())}
	if modes == 0 {
		return r.interactive(ctx, question{spec: req.Input, x: readExtras(cmd.rec.last()), check: check, comment: *comment}, unknown)
	}
	answer := client.Answer{Data: given, Comment: *comment}
	if *approve || *reject {
		if req.Input.Type != input.Approval {
			return fmt.Errorf("request %s asks for a %s answer, not an approval: answer with --data, or interactively", id, clip(string(req.Input.Type), 40))
		}
		a := map[string]any{"approved": *approve}
		if *comment != "" {
			a["comment"] = *comment
		}
		answer = client.Answer{Data: a}
	}
	return r.send(ctx, answer, false)
}

// responding is one answer being given.
type responding struct {
	cli       *cli
	cmd       *command
	api       *client.Client
	req       *events.Request
	check     bool
	responder string
}

// send checks the answer (when the request is understood), sends it and reports the
// outcome. In an interactive session the prompts have checked it already, and a refusal
// of the answer is returned as a *client.Error for the caller to ask again.
func (r *responding) send(ctx context.Context, a client.Answer, interactive bool) error {
	a.Responder = r.responder
	id := r.req.ID
	if r.check && !interactive {
		data, err := json.Marshal(a.Data)
		if err != nil {
			return err
		}
		var ve *input.ValidationError
		if errors.As(r.req.Input.Validate(data), &ve) {
			fmt.Fprintf(r.cli.stderr, "hitl: the answer does not fit request %s (%s):\n", id, inputSummary(r.req.Input))
			for _, f := range ve.Fields {
				fmt.Fprintf(r.cli.stderr, "  %s: %s\n", displayPath(f.Path), f.Message)
			}
			return errReported
		}
	}
	resolved, err := r.api.Respond(ctx, id, a)
	if err != nil {
		if interactive && refusedAnswer(err) {
			return err
		}
		return explain(err, "request", id)
	}
	if r.cmd.json {
		return r.cmd.printJSON()
	}
	w := r.cli.stdout
	line := fmt.Sprintf("Answered request %s", clean(id, false))
	if resolved.Response != nil {
		line += ": " + clip(compact(resolved.Response.Data), 200)
		if resolved.Response.Responder != "" {
			line += " (as " + clean(resolved.Response.Responder, false) + ")"
		}
	}
	fmt.Fprintln(w, line)
	if resolved.RunID != "" {
		fmt.Fprintf(w, "Run %s (%s) continues: hitl runs show %s\n", clean(resolved.RunID, false), clean(resolved.Workflow, false), clean(resolved.RunID, false))
	}
	return nil
}

// refusedAnswer reports whether the server refused the answer itself (400 with fields in
// data), which a person can correct.
func refusedAnswer(err error) bool {
	var ae *client.Error
	if !errors.As(err, &ae) || !errors.Is(err, client.ErrInvalid) || len(ae.Fields) == 0 {
		return false
	}
	for _, f := range ae.Fields {
		if _, ok := answerPath(f.Path); !ok {
			return false
		}
	}
	return true
}

// interactive shows the request and asks for the answer until the server takes it.
func (r *responding) interactive(ctx context.Context, q question, unknown []string) error {
	ui := r.cli.stdout
	if r.cmd.json {
		ui = r.cli.stderr // stdout carries only the API's JSON
	}
	introduce(ui, r.req, q.x, unknown, time.Now())
	p := newPrompter(ctx, r.cli.stdin, ui, !r.cli.interactive)
	bodyComment := ""
	if r.req.Input.Type != input.Approval {
		bodyComment, q.comment = q.comment, ""
	}
	var prev json.RawMessage
	var redo []input.FieldError
	for {
		data, err := p.answer(q, prev, redo)
		if err != nil {
			return err
		}
		err = r.send(ctx, client.Answer{Data: data, Comment: bodyComment}, true)
		var ae *client.Error
		if !errors.As(err, &ae) || !refusedAnswer(err) {
			return err
		}
		redo = redo[:0]
		for _, f := range ae.Fields {
			path, _ := answerPath(f.Path)
			redo = append(redo, input.FieldError{Path: path, Message: f.Message})
		}
		p.problems("The server did not accept that answer:", redo)
		prev = data
	}
}

// introduce shows what is asked: title, message, context, deadline and the kind of answer.
func introduce(w io.Writer, req *events.Request, x extras, unknown []string, now time.Time) {
	fmt.Fprintf(w, "%s\n", clip(req.Title, 200))
	about := []string{"request " + clean(req.ID, false)}
	if req.RunID != "" {
		about = append(about, "run "+clean(req.RunID, false)+" ("+clean(req.Workflow, false)+")")
	}
	about = append(about, "asked "+age(req.CreatedAt, now)+" ago")
	if req.Deadline != nil {
		about = append(about, "answer within "+shortDuration(req.Deadline.Sub(now)))
	}
	fmt.Fprintf(w, "%s\n", strings.Join(about, " · "))
	if req.Message != "" {
		fmt.Fprintf(w, "\n%s\n", indent(clean(req.Message, true), "  "))
	}
	writeContext(w, req.Context)
	fmt.Fprintf(w, "\nInput: %s\n", inputSummary(req.Input))
	switch {
	case len(x.Schema) > 0:
		fmt.Fprintf(w, "The answer is JSON matching this schema:\n%s\n", indent(pretty(x.Schema, 60), "  "))
	case !prompted(req.Input.Type):
		fmt.Fprintf(w, "This version of hitl has no prompts for input type %q: answer as JSON.\n", clip(string(req.Input.Type), 40))
	}
	if len(unknown) > 0 {
		fmt.Fprintf(w, "This question has settings this version of hitl does not know (%s); the server checks the answer.\n"+
			"Type :json to give the whole answer as JSON.\n", clip(strings.Join(unknown, ", "), 300))
	}
	if req.Input.Skippable {
		fmt.Fprintln(w, `Type "skip" to skip this question.`)
	}
}

// unknownSettings lists the settings of a request's input, as the API sent it, that this
// version's input.Spec does not have, with their values: `pattern="^[A-Z]"`,
// `fields[0].pattern=...`.
func unknownSettings(body []byte) []string {
	var req struct {
		Input map[string]json.RawMessage `json:"input"`
	}
	var form struct {
		Input struct {
			Fields []map[string]json.RawMessage `json:"fields"`
		} `json:"input"`
	}
	if json.Unmarshal(body, &req) != nil {
		return nil
	}
	_ = json.Unmarshal(body, &form) // fields of another shape are unknown settings already
	var out []string
	add := func(prefix string, m map[string]json.RawMessage, known map[string]bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !known[k] {
				out = append(out, prefix+k+"="+clip(string(m[k]), 80))
			}
		}
	}
	add("", req.Input, jsonNames(reflect.TypeFor[input.Spec]()))
	fieldNames := jsonNames(reflect.TypeFor[input.Field]())
	for i, f := range form.Input.Fields {
		add(fmt.Sprintf("fields[%d].", i), f, fieldNames)
	}
	return out
}

// jsonNames are the JSON names of a struct's fields.
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "-" && f.IsExported() {
			names[cmp.Or(name, f.Name)] = true
		}
	}
	return names
}

// prompted reports whether the prompts know the input type; others are answered as JSON.
func prompted(t input.Type) bool {
	switch t {
	case input.Approval, input.Text, input.Boolean, input.Number, input.Select, input.MultiSelect, input.Form:
		return true
	}
	return false
}

func alreadyResolved(req *events.Request) error {
	msg := fmt.Sprintf("request %s is already %s", clean(req.ID, false), strings.ReplaceAll(string(req.Status), "_", " "))
	if req.Response != nil && req.Response.Responder != "" && req.Status == events.StatusAnswered {
		msg += " by " + clean(req.Response.Responder, false)
	}
	return errors.New(msg)
}

// userName is who runs the command, the default responder.
func userName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
