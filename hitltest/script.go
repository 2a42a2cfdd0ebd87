package hitltest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hitl-dev/hitl/events"
)

// A Script answers questions as a run asks them, like a mocked request_input: InOrder,
// ByTitle, Func, or your own.
type Script interface {
	// Next returns the answer to q (as Question.Answer takes it: a JSON-able value,
	// Timeout() or Cancel()), or ok false when the script has none for it.
	Next(q *Question) (answer any, ok bool)
}

// Reply is one answer of an InOrder script.
type Reply struct {
	Title  string // the question it answers; "" answers whatever question comes next
	Answer any    // as Question.Answer takes it
}

// Answer returns the Reply answering the question titled title with v.
func Answer(title string, v any) Reply { return Reply{Title: title, Answer: v} }

// InOrder returns a script that gives its replies in order, each to the question of its
// title. Questions asked together (AskAll) may be answered in any order. Play fails the test
// if the run finishes with replies left over.
func InOrder(replies ...Reply) Script { return &inOrder{replies: replies} }

type inOrder struct {
	replies []Reply
	used    int
}

func (s *inOrder) Next(q *Question) (any, bool) {
	if s.used >= len(s.replies) {
		return nil, false
	}
	r := s.replies[s.used]
	if r.Title != "" && r.Title != q.Request.Title {
		return nil, false
	}
	s.used++
	return r.Answer, true
}

func (s *inOrder) unused() []string {
	var out []string
	for _, r := range s.replies[s.used:] {
		out = append(out, cmp.Or(r.Title, "(any question)"))
	}
	return out
}

func (s *inOrder) String() string {
	if s.used >= len(s.replies) {
		return fmt.Sprintf("all %d replies used", len(s.replies))
	}
	return fmt.Sprintf("the next reply (%d of %d) is for %q", s.used+1, len(s.replies), cmp.Or(s.replies[s.used].Title, "any question"))
}

// ByTitle returns a script that answers each question by its title, as often as it is asked.
// Play fails the test if the run finishes without asking one of the titles.
func ByTitle(answers map[string]any) Script {
	return &byTitle{answers: answers, used: map[string]bool{}}
}

type byTitle struct {
	answers map[string]any
	used    map[string]bool
}

func (s *byTitle) Next(q *Question) (any, bool) {
	v, ok := s.answers[q.Request.Title]
	if ok {
		s.used[q.Request.Title] = true
	}
	return v, ok
}

func (s *byTitle) unused() []string {
	var out []string
	for title := range s.answers {
		if !s.used[title] {
			out = append(out, title)
		}
	}
	slices.Sort(out)
	return out
}

func (s *byTitle) String() string {
	titles := make([]string, 0, len(s.answers))
	for t := range s.answers {
		titles = append(titles, t)
	}
	slices.Sort(titles)
	return "the script answers " + quoteAll(titles)
}

// Func returns a script that asks fn for each answer: by predicate, by request id, by
// position, or computed from the question.
func Func(fn func(q *Question) (answer any, ok bool)) Script { return funcScript(fn) }

type funcScript func(q *Question) (any, bool)

func (f funcScript) Next(q *Question) (any, bool) { return f(q) }

// Play answers the run's questions with s until the run finishes, like a mocked
// request_input: a question s has no answer for fails the test as unexpected, and so do
// answers of an InOrder or ByTitle script left unused when the run finishes. Questions asked
// together are offered to s in the order asked.
func (r *Run) Play(s Script) {
	r.t.Helper()
	if !r.play(s) {
		var hint string
		if str, ok := s.(fmt.Stringer); ok {
			hint = "; " + str.String()
		}
		var qs []string
		pending := r.Pending()
		for _, q := range pending[:min(len(pending), 5)] {
			qs = append(qs, q.String())
		}
		if len(pending) > 5 {
			qs = append(qs, fmt.Sprintf("and %d more", len(pending)-5))
		}
		r.t.Fatalf("%s: unexpected question %s: the script has no answer for it%s", r, strings.Join(qs, ", "), hint)
	}
	if u, ok := s.(interface{ unused() []string }); ok {
		if left := u.unused(); len(left) > 0 {
			r.t.Errorf("%s: the run %s without asking %s: scripted answers left unused", r, r.describe(), quoteAll(left))
		}
	}
}

// Supply answers the run's questions with s while s has answers for them, and returns when
// the run finishes or waits only on questions s cannot answer: pre-supplied answers, e.g.
// for a run resumed from a checkpoint, after which the test goes on answering by hand.
func (r *Run) Supply(s Script) {
	r.t.Helper()
	r.play(s)
}

// play reports false when the run waits on questions s has no answer for.
func (r *Run) play(s Script) bool {
	r.t.Helper()
	for r.cp.Status == events.RunWaiting {
		answered := false
		for _, q := range r.Pending() {
			if v, ok := s.Next(q); ok {
				q.Answer(v)
				answered = true
				break
			}
		}
		if !answered {
			return false
		}
	}
	return true
}
