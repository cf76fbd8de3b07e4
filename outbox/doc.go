// Package outbox is the outbox: mail accepted for recipients in other
// domains, waiting for the dispatcher to transfer it, with the state of
// every recipient and the outcomes of delivery attempts.
//
// # Entries
//
// An entry is one accepted message (its envelope sender, its size and its
// bytes) with one row per remote recipient. The bytes live in the blob
// table that the mail store's messages share (package internal/blob): a
// message for a local mailbox and a remote recipient is stored once. An
// entry is added in the transaction of the store that accepted the
// message, never on its own:
//
//   - AddMessageTx, by the mail store's Deliver, in the transaction that
//     writes the message's local copies: an SMTP 250 means both are
//     durable, or neither is.
//   - AddTx, by a store sharing the database (the notification store),
//     for a message composed when it is delivered: its blob is empty, and
//     the dispatcher asks its Options.Compose for the bytes.
//
// Once that transaction is durable, its owner calls Added, which calls
// Options.Added with the entry's ID: the program's one path for enqueuing
// job "outbox:<id>" on JobQueue. A lost job is restored by the queue
// sweeper from DuePage, so Added is a shortcut, not a promise.
//
// # Recipient states
//
// Every recipient starts Queued, due at once. An attempt leaves it Queued
// with a later next attempt (a temporary failure), or moves it to one of
// the final states: Delivered, Failed (a permanent failure, or an
// operator's Cancel) or Expired (temporary failures past the queue's
// maximum age). A final state is never overwritten: recording changes
// only recipients still Queued, so a job that runs twice records its
// first outcome. DelayNotified marks, once and for good, that the sender
// was told delivery is delayed. An entry without a Queued recipient is
// finished; recording with remove deletes it, and its blob when no
// mailbox holds the message.
//
// State reads an entry with its recipients and bytes; DuePage pages
// through the entries with a Queued recipient due by a given time (the
// sweeper's walk).
//
// # Hooks
//
// A Hook (AddHook, before anything records: the process adds its hooks
// while it is put together, before the workers start) subscribes to
// outcomes. Both of its steps run inside the recording transaction, so
// what a hook writes commits or fails with the outcomes, and the two are
// never seen apart:
//
//  1. OutboxRecording, first, before any outbox row changes, with the IDs
//     of the entries about to be recorded; a hook that takes locks takes
//     them here, and one that has no interest in the entries returns nil.
//  2. The function it returned, after the rows changed, with one Outcome
//     per recipient whose state changed (a recipient that was no longer
//     Queued gives none): the entry, the recipient, its new state, whether
//     that state is final, the remote reply or local reason, and when the
//     entry's first attempt began. NotAttempted marks a change of
//     bookkeeping only (a delay notice); InProgress marks RecordInProgress's
//     report that a first attempt is still running, which changes nothing
//     in the outbox.
//
// Outcomes are generic: a hook learns who its entries are for from its
// own tables. Tx.AfterCommit runs a function once the transaction is
// durable (after the group commit's sync, before the recorders return).
// Cancel tells no hook: its caller tells whoever owns the entry.
//
// # Group commit
//
// RecordAttempts returns once its outcomes are durable. Concurrent calls
// share one transaction and one sync (a sqldb.Batcher): the outcomes of
// many deliveries cost one commit. If that shared transaction fails, each
// call is tried again in a transaction of its own, so one bad call fails
// alone. The hooks see the attempts of consecutive calls together.
// RecordAttemptsTx records in a transaction the caller owns instead
// (a bounce, recorded with the notification's status), telling only the
// hooks it is given.
package outbox
