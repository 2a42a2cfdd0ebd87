// Package notifytest is the conformance suite of a notification channel on its own, for
// channels written outside this module: on a real embedded JetStream and the real notifier,
// it delivers, it is idempotent on redelivery, it updates the surface on resolution, it
// reports a failed delivery as a dead letter with a reason after the last attempt, and it
// rejects bad configuration.
//
// It runs the notify half of surface/surfacetest, the suite every surface of this module
// passes, and reports that suite's answer behaviours skipped: a channel here has no answer
// half. A surface that also takes answers runs surfacetest itself.
package notifytest

import (
	"testing"

	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/surface/surfacetest"
)

// Subject is a channel under test and a view of what its recipient saw.
type Subject struct {
	// Channel, built with a valid configuration.
	Channel notify.Channel
	// Assignee reaches a recipient through Channel, e.g. "webhook:ops-bot".
	Assignee string
	// Delivered counts how often the recipient was shown the request.
	Delivered func(requestID string) int
	// Resolved counts how often the recipient's surface was updated with the outcome.
	Resolved func(requestID string) int
	// Break makes deliveries to the recipient fail from now on (its server errors).
	Break func()
	// BadConfigs each try to build the channel from a bad configuration; each must fail.
	BadConfigs map[string]func() error
}

// Run runs the suite. newSubject builds a fresh subject per behaviour.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	const why = "notifytest checks a channel's notify half only; surface/surfacetest checks a surface's answer half"
	skip := map[surfacetest.Behaviour]string{}
	for _, b := range surfacetest.AnswerBehaviours {
		skip[b] = why
	}
	surfacetest.Run(t, func(t *testing.T, _ surfacetest.Env) surfacetest.Subject {
		s := newSubject(t)
		return surfacetest.Subject{Skip: skip, BadConfigs: s.BadConfigs, Notify: &surfacetest.Notify{Channel: s.Channel,
			Assignee: s.Assignee, Delivered: s.Delivered, Resolved: s.Resolved, Break: s.Break}}
	})
}
