package console_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hitl-dev/hitl/surface/console"
	"github.com/hitl-dev/hitl/surface/surfacetest"
)

// TestConformance runs the console as hitl dev runs it: an observer of every request,
// writing to a terminal.
func TestConformance(t *testing.T) {
	const observes = "the console only observes: nobody answers on it; the commands it prints answer through the REST API and the web inbox, whose suites cover answers (surface/webhook, surface/web)"
	skip := map[surfacetest.Behaviour]string{
		surfacetest.RejectsBadConfiguration: "the console has no configuration to reject: console.Channel is a writer and a base URL for the printed commands, set by hitl dev, with no constructor that checks them",
	}
	for _, b := range surfacetest.AnswerBehaviours {
		skip[b] = observes
	}
	surfacetest.Run(t, func(t *testing.T, env surfacetest.Env) surfacetest.Subject {
		term := &terminal{}
		return surfacetest.Subject{
			Skip: skip,
			Notify: &surfacetest.Notify{
				Channel:   &console.Channel{W: term, BaseURL: env.PublicURL},
				Observer:  true,
				Delivered: term.shown,
				Resolved:  term.outcomes,
				Break:     func() { term.breakDown() },
			},
		}
	})
}

// terminal is what the console writes to; broken, every write fails, as on a closed
// terminal or a pipe whose reader went away.
type terminal struct {
	mu     sync.Mutex
	b      bytes.Buffer
	broken bool
}

var errBrokenTerminal = errors.New("write /dev/pts/0: input/output error")

func (w *terminal) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken {
		return 0, errBrokenTerminal
	}
	return w.b.Write(p)
}

func (w *terminal) breakDown() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.broken = true
}

func (w *terminal) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Split(w.b.String(), "\n")
}

// shown counts the request's headers: "── request <id> ──" opens each request printed.
func (w *terminal) shown(id string) int {
	n := 0
	for _, l := range w.lines() {
		if l == "── request "+id+" ──" {
			n++
		}
	}
	return n
}

// outcomes counts the lines that say how the request ended: "── request <id> answered by …",
// unindented like the header, but no header.
func (w *terminal) outcomes(id string) int {
	n := 0
	for _, l := range w.lines() {
		if strings.HasPrefix(l, "── request "+id+" ") && !strings.HasSuffix(l, "──") {
			n++
		}
	}
	return n
}
