// Package hitltest runs hitl workflows in a test, with answers the test supplies, and no
// server: no JetStream, no orchestrator, no HTTP. It drives runs through the same replay
// core and checkpoint bookkeeping the orchestrator uses (hitl.Registry.Execute, package
// journal), so a workflow behaves as in production:
//
//   - every execution replays the run's checkpoint from its JSON form, as stored in the
//     hitl_runs bucket, and each Step runs once per run;
//   - each execution is replayed a second time at once, as a restarted orchestrator would,
//     and the test fails if the replay disagrees (code outside Step that is not
//     deterministic, a Step result that does not survive JSON);
//   - answers are validated against the question's input spec, and refused like the API
//     refuses them (400 validation_failed);
//   - a question times out only if it has a Timeout, and then returns its Default when its
//     policy says so.
//
// A test starts a run and answers its questions one at a time:
//
//	h := hitltest.New(t, reg)
//	run := h.Start("refund", refund.Input{OrderID: "A-1001"})
//	run.Expect("Refund decision for A-1001").AssertInput(input.Select).Answer("approve")
//	run.Expect("Refund method for A-1001").Answer("store_credit")
//	...
//	run.AssertCompleted()
//	run.Result(&out)
//
// or plays a script, like a mocked request_input, failing on any question it does not expect:
//
//	run.Play(hitltest.InOrder(
//		hitltest.Answer("Refund decision for A-1001", "reject"),
//	))
//
// A run's Checkpoint (or a value read from the hitl_runs bucket, with ResumeJSON) resumes in
// another harness, with pre-supplied answers for the questions it waits on.
//
// Failures are reported through the testing.TB given to New; the harness calls only its
// Helper, Errorf and Fatalf methods. A Harness and its Runs are not safe for concurrent use:
// give each parallel test its own.
package hitltest
