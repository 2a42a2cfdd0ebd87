package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hitl-dev/hitl/input"
)

// Signals from a prompt.
var (
	errSkip    = errors.New("skip")                             // "skip" to a skippable question: answer null
	errRawJSON = errors.New("answer as JSON")                   // ":json": type the whole answer as JSON
	errNoInput = errors.New("no answer given: the input ended") // stdin closed before an answer
)

// prompter asks for an answer a line at a time, on a terminal or from piped input.
type prompter struct {
	ctx   context.Context
	out   io.Writer
	lines chan string
	rerr  error // why lines closed, if not EOF; written before close
	// echo repeats each line read, so that a transcript of piped input reads like a session.
	echo bool
	// skippable makes "skip" answer null.
	skippable bool
}

func newPrompter(ctx context.Context, in io.Reader, out io.Writer, echo bool) *prompter {
	p := &prompter{ctx: ctx, out: out, lines: make(chan string), echo: echo}
	go func() {
		r := bufio.NewReader(in)
		for {
			s, err := r.ReadString('\n')
			if s != "" {
				p.lines <- strings.TrimRight(s, "\r\n")
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					p.rerr = err
				}
				close(p.lines)
				return
			}
		}
	}()
	return p
}

// read prints prompt and returns the next line as typed.
func (p *prompter) read(prompt string) (string, error) {
	fmt.Fprint(p.out, prompt)
	select {
	case <-p.ctx.Done():
		fmt.Fprintln(p.out)
		return "", p.ctx.Err()
	case s, ok := <-p.lines:
		if !ok {
			fmt.Fprintln(p.out)
			if p.rerr != nil {
				return "", fmt.Errorf("read the answer: %w", p.rerr)
			}
			return "", errNoInput
		}
		if p.echo {
			fmt.Fprintln(p.out, s)
		}
		return s, nil
	}
}

// ask returns the next line trimmed; ":json" is errRawJSON and, when skippable, "skip" is
// errSkip.
func (p *prompter) ask(prompt string) (string, error) {
	s, err := p.read(prompt)
	if err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	switch {
	case s == ":json":
		return "", errRawJSON
	case p.skippable && strings.EqualFold(s, "skip"):
		return "", errSkip
	}
	return s, nil
}

func (p *prompter) complain(format string, args ...any) {
	fmt.Fprintf(p.out, "  ! "+format+"\n", args...)
}

// problems lists why an answer was refused, a field a line.
func (p *prompter) problems(title string, fields []input.FieldError) {
	fmt.Fprintln(p.out, title)
	for _, f := range fields {
		fmt.Fprintf(p.out, "  ! %s: %s\n", displayPath(f.Path), f.Message)
	}
}

// displayPath names a failing field for people: "$" is the answer, "$.amount" is amount.
func displayPath(path string) string {
	switch {
	case path == "$":
		return "answer"
	case strings.HasPrefix(path, "$."):
		return path[2:]
	case strings.HasPrefix(path, "$"):
		return "answer" + path[1:]
	}
	return path
}

// answerPath turns the API's paths of a respond call ("data", "data.amount") into paths
// of the answer ("$", "$.amount"); ok is false for a field outside the answer.
func answerPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "data")
	if !ok || (rest != "" && rest[0] != '.' && rest[0] != '[') {
		return path, false
	}
	return "$" + rest, true
}

// question is what answer asks for.
type question struct {
	spec input.Spec
	x    extras
	// check: the answer must pass local validation (spec.Validate) too.
	check bool
	// comment, when set, is an approval's comment (not asked).
	comment string
}

// extras are input settings newer than the first versions of hitl (text patterns,
// approval labels, edit then approve, JSON answers), read from the API's JSON rather than
// input.Spec so that the prompts use them whichever side is newer.
type extras struct {
	Pattern string `json:"pattern"`
	Labels  struct {
		Approve string `json:"approve"`
		Reject  string `json:"reject"`
	} `json:"labels"`
	RequireCommentOnReject bool            `json:"require_comment_on_reject"`
	Proposed               json.RawMessage `json:"proposed"`
	ActionSchema           json.RawMessage `json:"action_schema"`
	Schema                 json.RawMessage `json:"schema"`
}

// readExtras reads the extras of a request's input from the API's JSON of the request.
func readExtras(body []byte) extras {
	var r struct {
		Input extras `json:"input"`
	}
	_ = json.Unmarshal(body, &r) // a field of another shape is simply not used
	return r.Input
}

// answer asks until it has an answer: by type, field by field, or as raw JSON for a type
// this version does not prompt for. prev and redo are a refused answer and why: a form then
// asks again only for the failing fields.
func (p *prompter) answer(q question, prev json.RawMessage, redo []input.FieldError) (json.RawMessage, error) {
	spec := q.spec
	for {
		p.skippable = spec.Skippable
		data, err := p.value(q, prev, redo)
		p.skippable = false
		switch {
		case errors.Is(err, errSkip):
			data, err = json.RawMessage("null"), nil
		case errors.Is(err, errRawJSON):
			data, err = p.rawJSON()
		}
		if err != nil {
			return nil, err
		}
		if q.check {
			var ve *input.ValidationError
			if errors.As(spec.Validate(data), &ve) {
				p.problems("That answer does not fit:", ve.Fields)
				prev, redo = data, ve.Fields
				continue
			}
		}
		return data, nil
	}
}

// value asks by type.
func (p *prompter) value(q question, prev json.RawMessage, redo []input.FieldError) (json.RawMessage, error) {
	spec := q.spec
	var v any
	var err error
	switch spec.Type {
	case input.Approval:
		v, err = p.approval(q)
	case input.Text:
		v, err = p.text(spec, q.x.Pattern)
	case input.Boolean:
		v, _, err = p.boolean("Answer [y/n]: ", true)
	case input.Number:
		var n json.RawMessage
		n, _, err = p.number("Answer"+numberHint(spec.Integer, spec.Min, spec.Max)+": ", true)
		v = n
	case input.Select:
		listOptions(p.out, spec.Options)
		v, _, err = p.choice(spec.Options, spec.AllowCustom, true)
	case input.MultiSelect:
		listOptions(p.out, spec.Options)
		v, err = p.picks(spec)
	case input.Form:
		return p.form(spec, prev, redo)
	default:
		return nil, errRawJSON
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// rawJSON asks for the whole answer as JSON.
func (p *prompter) rawJSON() (json.RawMessage, error) {
	return p.jsonValue("Answer as JSON: ")
}

// jsonValue reads a JSON value, on one line or pasted over several: lines are read until
// they make up valid JSON; a blank line (or ".") gives up on what was typed and starts over.
func (p *prompter) jsonValue(prompt string) (json.RawMessage, error) {
	var typed []string
	for {
		next := prompt
		if len(typed) > 0 {
			next = "... "
		}
		s, err := p.read(next)
		if err != nil {
			return nil, err
		}
		if t := strings.TrimSpace(s); t == "" || t == "." {
			if len(typed) > 0 {
				p.complain(`that is not JSON (a string is quoted: "text"); start again`)
				typed = typed[:0]
			}
			continue
		}
		typed = append(typed, s)
		doc := strings.TrimSpace(strings.Join(typed, "\n"))
		if json.Valid([]byte(doc)) {
			return json.RawMessage(doc), nil
		}
		if len(typed) == 1 && !strings.ContainsAny(doc[:1], "{[\"") {
			p.complain(`that is not JSON (a string is quoted: "text")`)
			typed = typed[:0]
		}
	}
}

// approval asks approve or reject, or, when the request proposes an action, edit it then
// approve; then for a comment unless one was given (required when rejecting if the spec
// says so). The buttons' labels come from the spec's labels, else its options (ids approve
// and reject, or the first two).
func (p *prompter) approval(q question) (map[string]any, error) {
	yes, no := approvalLabels(q.spec, q.x)
	canEdit := len(q.x.Proposed) > 0 || len(q.x.ActionSchema) > 0
	if len(q.x.Proposed) > 0 {
		fmt.Fprintf(p.out, "Proposed action:\n%s\n", indent(pretty(q.x.Proposed, 40), "  "))
	}
	fmt.Fprintf(p.out, "  y) %s\n  n) %s\n", yes, no)
	prompt := "Approve? [y/n]: "
	if canEdit {
		fmt.Fprintf(p.out, "  e) Edit the action, then %s\n", strings.ToLower(yes))
		prompt = "Approve? [y/n/e]: "
	}
	a := map[string]any{}
	for {
		s, err := p.ask(prompt)
		if err != nil {
			return nil, err
		}
		l := strings.ToLower(s)
		if b, ok := parseBool(l); ok {
			a["approved"] = b
			break
		}
		switch {
		case l == "approve" || l == "a" || l == strings.ToLower(yes):
			a["approved"] = true
		case l == "reject" || l == "r" || l == strings.ToLower(no):
			a["approved"] = false
		case canEdit && (l == "e" || l == "edit"):
			edited, err := p.jsonValue("Edited action as JSON: ")
			if err != nil {
				return nil, err
			}
			a["approved"], a["edited"] = true, edited
		default:
			p.complain("answer y to approve or n to reject%s", map[bool]string{true: ", or e to edit", false: ""}[canEdit])
			continue
		}
		break
	}
	comment := q.comment
	for comment == "" {
		need := "optional, Enter for none"
		if q.x.RequireCommentOnReject && a["approved"] == false {
			need = "required when rejecting: say why"
		}
		s, err := p.read("Comment (" + need + "): ")
		if err != nil {
			return nil, err
		}
		comment = strings.TrimSpace(s)
		if comment == "" && need[0] == 'r' {
			p.complain("a rejection needs a comment")
			continue
		}
		break
	}
	if comment != "" {
		a["comment"] = comment
	}
	return a, nil
}

func approvalLabels(spec input.Spec, x extras) (yes, no string) {
	spec.Labels = input.Labels{Approve: x.Labels.Approve, Reject: x.Labels.Reject}
	return spec.ApprovalLabels()
}

// text asks for a line, or lines until "." when the spec allows several.
func (p *prompter) text(spec input.Spec, pattern string) (string, error) {
	var hints []string
	if pattern != "" {
		hints = append(hints, "matching "+clip(pattern, 80))
	}
	if spec.MinLength != nil && *spec.MinLength > 0 {
		hints = append(hints, fmt.Sprintf("at least %d characters", *spec.MinLength))
	}
	if spec.MaxLength != nil {
		hints = append(hints, fmt.Sprintf("at most %d characters", *spec.MaxLength))
	}
	hint := ""
	if len(hints) > 0 {
		hint = " (" + strings.Join(hints, ", ") + ")"
	}
	if !spec.Multiline {
		return p.ask("Answer" + hint + ": ")
	}
	fmt.Fprintf(p.out, "Answer%s; end with a line holding only \".\":\n", hint)
	var lines []string
	for {
		var s string
		var err error
		if len(lines) == 0 {
			s, err = p.ask("")
		} else {
			s, err = p.read("")
		}
		if errors.Is(err, errNoInput) && len(lines) > 0 {
			break // end of input ends the text too
		}
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(s) == "." {
			break
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n"), nil
}

func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "y", "yes", "true":
		return true, true
	case "n", "no", "false":
		return false, true
	}
	return false, false
}

// boolean asks yes or no; an empty line is no answer when !required.
func (p *prompter) boolean(prompt string, required bool) (v, present bool, err error) {
	for {
		s, err := p.ask(prompt)
		if err != nil {
			return false, false, err
		}
		if s == "" && !required {
			return false, false, nil
		}
		if b, ok := parseBool(s); ok {
			return b, true, nil
		}
		p.complain("answer y or n")
	}
}

func numberHint(integer bool, lo, hi *float64) string {
	var h []string
	if integer {
		h = append(h, "a whole number")
	} else {
		h = append(h, "a number")
	}
	switch {
	case lo != nil && hi != nil:
		h = append(h, fmt.Sprintf("from %v to %v", *lo, *hi))
	case lo != nil:
		h = append(h, fmt.Sprintf("at least %v", *lo))
	case hi != nil:
		h = append(h, fmt.Sprintf("at most %v", *hi))
	}
	return " (" + strings.Join(h, ", ") + ")"
}

// parseNumber reads a number as JSON, keeping it as typed when it is already JSON.
func parseNumber(s string) (json.RawMessage, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s), true
	}
	return json.RawMessage(strconv.FormatFloat(f, 'f', -1, 64)), true
}

// number asks for a number; an empty line is no answer when !required.
func (p *prompter) number(prompt string, required bool) (json.RawMessage, bool, error) {
	for {
		s, err := p.ask(prompt)
		if err != nil {
			return nil, false, err
		}
		if s == "" && !required {
			return nil, false, nil
		}
		if n, ok := parseNumber(s); ok {
			return n, true, nil
		}
		if s == "" {
			p.complain("an answer is required")
		} else {
			p.complain("%q is not a number", clip(s, 40))
		}
	}
}

// listOptions numbers the choices.
func listOptions(w io.Writer, opts []input.Option) {
	for i, o := range opts {
		label := clip(o.Label, 80)
		if label == "" || label == o.ID {
			fmt.Fprintf(w, "  %d) %s\n", i+1, clip(o.ID, 80))
		} else {
			fmt.Fprintf(w, "  %d) %s  [%s]\n", i+1, label, clip(o.ID, 40))
		}
		if o.Description != "" {
			fmt.Fprintf(w, "     %s\n", clip(o.Description, 200))
		}
	}
}

// pick finds the option a person meant: its number, its id, or its label.
func pick(opts []input.Option, s string) (string, bool) {
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(opts) {
		return opts[n-1].ID, true
	}
	for _, o := range opts {
		if o.ID == s {
			return o.ID, true
		}
	}
	for _, o := range opts {
		if strings.EqualFold(o.ID, s) || (o.Label != "" && strings.EqualFold(o.Label, s)) {
			return o.ID, true
		}
	}
	return "", false
}

// choice asks for one option; with allowCustom any other text is the answer. An empty line
// is no answer when !required.
func (p *prompter) choice(opts []input.Option, allowCustom, required bool) (string, bool, error) {
	var prompt string
	choices := fmt.Sprintf("1-%d", len(opts))
	if len(opts) == 1 {
		choices = "1"
	}
	switch {
	case len(opts) == 0:
		prompt = "Answer: "
	case allowCustom:
		prompt = "Choose " + choices + ", or type your own answer: "
	default:
		prompt = "Choose " + choices + ": "
	}
	if !required {
		prompt = strings.TrimSuffix(prompt, ": ") + " (Enter to leave out): "
	}
	for {
		s, err := p.ask(prompt)
		if err != nil {
			return "", false, err
		}
		if s == "" {
			if !required {
				return "", false, nil
			}
			p.complain("an answer is required")
			continue
		}
		if id, ok := pick(opts, s); ok {
			return id, true, nil
		}
		if allowCustom {
			return s, true, nil
		}
		p.complain("%q is not one of the choices: enter a number from 1 to %d, or an option's id", clip(s, 40), len(opts))
	}
}

// picks asks for any number of options, separated by commas.
func (p *prompter) picks(spec input.Spec) ([]string, error) {
	hint := "numbers or ids, separated by commas"
	if spec.AllowCustom {
		hint += ", or your own answers"
	}
	switch {
	case spec.MinPicks != nil && spec.MaxPicks != nil:
		hint += fmt.Sprintf("; %d to %d", *spec.MinPicks, *spec.MaxPicks)
	case spec.MinPicks != nil:
		hint += fmt.Sprintf("; at least %d", *spec.MinPicks)
	case spec.MaxPicks != nil:
		hint += fmt.Sprintf("; at most %d", *spec.MaxPicks)
	}
	if spec.MinPicks == nil || *spec.MinPicks == 0 {
		hint += "; Enter for none"
	}
	for {
		s, err := p.ask("Choose (" + hint + "): ")
		if err != nil {
			return nil, err
		}
		ids := []string{}
		var bad []string
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if id, ok := pick(spec.Options, part); ok {
				ids = append(ids, id)
			} else if spec.AllowCustom {
				ids = append(ids, part)
			} else {
				bad = append(bad, strconv.Quote(clip(part, 40)))
			}
		}
		if len(bad) > 0 {
			p.complain("%s: not among the choices (1 to %d, or an option's id)", strings.Join(bad, ", "), len(spec.Options))
			continue
		}
		return ids, nil
	}
}

// form asks each field in turn; an optional one is left out on an empty line. With redo
// naming only fields of the form, just those are asked again and the rest of prev is kept.
func (p *prompter) form(spec input.Spec, prev json.RawMessage, redo []input.FieldError) (json.RawMessage, error) {
	values := map[string]json.RawMessage{}
	again := map[string]bool{}
	if len(redo) > 0 && json.Unmarshal(prev, &values) == nil {
		ids := map[string]bool{}
		for _, f := range spec.Fields {
			ids[f.ID] = true
		}
		for _, fe := range redo {
			id, ok := strings.CutPrefix(fe.Path, "$.")
			if i := strings.IndexAny(id, ".["); i >= 0 {
				id = id[:i]
			}
			if !ok || !ids[id] {
				again = nil // not only fields of this form: ask everything
				break
			}
			again[id] = true
		}
	}
	if len(again) == 0 {
		values = map[string]json.RawMessage{}
		fmt.Fprintf(p.out, "%d fields; Enter leaves out an optional one.\n", len(spec.Fields))
	}
	for _, f := range spec.Fields {
		if len(again) > 0 && !again[f.ID] {
			continue
		}
		need := "optional"
		if f.Required {
			need = "required"
		}
		name := clip(cmp.Or(f.Name, f.ID), 80)
		if name == f.ID {
			fmt.Fprintf(p.out, "\n%s (%s, %s)\n", name, f.Type, need)
		} else {
			fmt.Fprintf(p.out, "\n%s (%s: %s, %s)\n", name, clip(f.ID, 40), f.Type, need)
		}
		if f.Data.Description != "" {
			fmt.Fprintf(p.out, "  %s\n", clip(f.Data.Description, 300))
		}
		v, present, err := p.field(f)
		if err != nil {
			return nil, err
		}
		if present {
			values[f.ID] = v
		} else {
			delete(values, f.ID)
		}
	}
	return object(spec.Fields, values)
}

// object writes values as a JSON object in the form's field order (then any others, sorted).
func object(fields []input.Field, values map[string]json.RawMessage) (json.RawMessage, error) {
	var keys []string
	for _, f := range fields {
		if _, ok := values[f.ID]; ok && !slices.Contains(keys, f.ID) {
			keys = append(keys, f.ID)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(values[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// field asks one form field.
func (p *prompter) field(f input.Field) (json.RawMessage, bool, error) {
	switch f.Type {
	case input.FieldBoolean:
		b, present, err := p.boolean("[y/n]: ", f.Required)
		if !present || err != nil {
			return nil, false, err
		}
		return json.RawMessage(strconv.FormatBool(b)), true, nil
	case input.FieldNumber:
		return p.number("> ", f.Required)
	case input.FieldSelect:
		listOptions(p.out, f.Options)
		id, present, err := p.choice(f.Options, false, f.Required)
		if !present || err != nil {
			return nil, false, err
		}
		b, err := json.Marshal(id)
		return b, true, err
	case input.FieldString:
		for {
			s, err := p.ask("> ")
			if err != nil {
				return nil, false, err
			}
			if s != "" {
				b, err := json.Marshal(s)
				return b, true, err
			}
			if !f.Required {
				return nil, false, nil
			}
			p.complain("this field is required")
		}
	}
	for { // a field type this version does not know
		s, err := p.ask("value as JSON: ")
		if err != nil {
			return nil, false, err
		}
		switch {
		case s == "" && !f.Required:
			return nil, false, nil
		case s != "" && json.Valid([]byte(s)):
			return json.RawMessage(s), true, nil
		}
		p.complain("enter a JSON value")
	}
}
