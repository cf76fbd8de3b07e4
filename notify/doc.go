// Package notify carries notifications after the API has committed them:
// the channel model (Channel, Tracker.Handler, JobOf: channel.go), email
// composition (Compose), status changes with their callbacks
// (Tracker.SetStatus, and for email the outbox's recorded outcomes,
// which the program subscribes with notifydb.Store.NotificationHook and
// Tracker.OutboxRecorded), composing notification email at delivery
// (Tracker.ComposeOutbox, the dispatcher's Options.Compose), the test-key simulator (Tracker.HandleTest on
// QueueTest), the 72-hour expiry sweep (Tracker.ExpireStale, RunExpiry) and
// the queue sweeper's Source for its queues.
//
// Queues and job IDs:
//
//	notify-test   notification:<id>  test-key notifications, simulated here
//	sms           notification:<id>  live SMS (notify/smschan)
//	callback      callback:<event>   signed status callbacks (package webhook)
//
// Live email goes through the outbox like all mail (job outbox:<id> on the
// outbox queue of the dispatcher).
//
// Test keys send nothing outside. A test notification goes created →
// sending → delivered, except for these simulated recipients:
//
//	temp-fail@simulator.congthu.test   temporary-failure
//	perm-fail@simulator.congthu.test   permanent-failure
//	tech-fail@simulator.congthu.test   technical-failure
//	+84900000001 (0900 000 001)        temporary-failure
//	+84900000002 (0900 000 002)        permanent-failure
//
// Channel fallback (Tracker.Fallback, fallback.go): a dossier event's email
// that fails permanently is followed by the event's SMS variant when the
// applicant gave a phone number and no SMS of the event exists; with a
// test key it is simulated like any test SMS (perm-fail@ above → SMS
// delivered).
package notify
