package store

// The dispatcher's side of the outbox: reading an entry with the
// dispatcher's bookkeeping, recording the outcomes of delivery attempts in
// one transaction (with the hooks that subscribe to them), and paging
// through due entries for the queue sweeper.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"congthu/internal/sqldb"
)

// OutboxState is an outbox entry as the dispatcher sees it: the message's
// envelope and every recipient with its delivery state.
type OutboxState struct {
	ID         int64
	MailFrom   string
	Size       int64
	CreatedAt  time.Time
	Recipients []OutboxRecipientState
	// Raw is the message, exactly as accepted. It is empty for an entry
	// whose message is composed when it is delivered (see the
	// dispatcher's Options.Compose).
	Raw []byte
}

// OutboxRecipientState is one recipient's delivery state, with whether the
// sender was already sent a delay notice for it.
type OutboxRecipientState struct {
	OutboxRecipient
	DelayNotified bool
}

// OutboxAttempt is the outcome of one delivery attempt to one recipient of
// an outbox entry, as RecordOutboxAttempts stores it.
type OutboxAttempt struct {
	OutboxID int64
	Address  string // as stored in the entry (see OutboxState)
	// Status is the recipient's new state: OutboxQueued (try again at
	// NextAttempt) or a final one (OutboxDelivered, OutboxFailed,
	// OutboxExpired).
	Status      string
	NextAttempt time.Time
	// LastError is the remote reply or the local reason ("" on success).
	LastError string
	// DelayNotified marks that the sender has been told delivery is
	// delayed; it is never cleared.
	DelayNotified bool
	// NotAttempted records only DelayNotified (and Status/NextAttempt)
	// without counting an attempt or changing LastError.
	NotAttempted bool
	// Started is when the entry's first attempt began (zero for later
	// attempts); it is passed to the hooks (OutboxOutcome.Started).
	Started time.Time
}

// OutboxOutcome is one recipient's recorded outcome, as the outbox hooks
// see it.
type OutboxOutcome struct {
	OutboxID  int64
	Recipient string
	// Status is the recipient's outbox state: OutboxQueued, or one of
	// the final OutboxDelivered, OutboxFailed, OutboxExpired.
	Status string
	// Final is whether Status is final (no further attempt).
	Final bool
	// Reply is the remote reply or the local reason ("" when delivered).
	Reply string
	// Started is when the entry's first attempt began, set on the
	// outcome of that attempt and on InProgress outcomes.
	Started time.Time
	// NotAttempted: only the recipient's bookkeeping changed (a delay
	// notice), no attempt was made.
	NotAttempted bool
	// InProgress: an attempt that began at Started is still running
	// (RecordOutboxInProgress); nothing about the recipient changed.
	InProgress bool
}

// OutboxTx is the recording transaction as an OutboxHook uses it.
type OutboxTx struct {
	tx    dbtx
	after []func(context.Context)
}

// Tx returns the recording transaction, for the hook's own statements.
func (t *OutboxTx) Tx() sqldb.Tx { return t.tx }

// AfterCommit has f called once the transaction is durable (not when it
// fails or is tried again), in the goroutine that recorded, with a context
// that is not cancelled by the recorder's.
func (t *OutboxTx) AfterCommit(f func(context.Context)) { t.after = append(t.after, f) }

// OutboxHook subscribes to the outcomes of delivery attempts. Both methods
// run inside the recording transaction: what a hook writes commits or
// fails with the outcomes.
type OutboxHook interface {
	// OutboxRecording is called first in the transaction, before any
	// outbox row changes, with the entries about to be recorded (a hook
	// that takes locks takes them here). It returns what to call with
	// the outcomes, or nil when none of the entries concerns it.
	OutboxRecording(ctx context.Context, tx *OutboxTx, ids []int64) (func(ctx context.Context, tx *OutboxTx, outcomes []OutboxOutcome) error, error)
}

// AddOutboxHook subscribes h to the outcomes that RecordOutboxAttempts and
// RecordOutboxInProgress record. Hooks are added when the process is put
// together, before anything records.
func (s *Store) AddOutboxHook(h OutboxHook) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	hooks := append(slices.Clone(s.hooks()), h)
	s.outboxHooks.Store(&hooks)
}

// hooks returns the outbox hooks.
func (s *Store) hooks() []OutboxHook {
	if p := s.outboxHooks.Load(); p != nil {
		return *p
	}
	return nil
}

// OutboxState returns an outbox entry with its recipients (ordered by
// address), their bookkeeping and the message's bytes. ErrNotFound.
//
// It reads without a transaction (two queries instead of four on the hot
// path): the recipients may be a moment newer than the entry, which is
// harmless because RecordOutboxAttempts only changes queued recipients.
func (s *Store) OutboxState(ctx context.Context, id int64) (*OutboxState, error) {
	var m OutboxState
	var created int64
	err := s.r().Row(ctx, `SELECT o.id, o.mail_from, o.size, o.created_at, b.raw
		FROM outbox o JOIN blobs b ON b.id = o.blob_id WHERE o.id = ?`, id).Scan(
		&m.ID, &m.MailFrom, &m.Size, &created, &m.Raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: outbox %d: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: outbox %d: %w", id, err)
	}
	m.CreatedAt = sqldb.FromMicro(created)
	rows, err := s.r().Query(ctx, `SELECT address, status, attempts, next_attempt_at, last_error, delay_notified
		FROM outbox_recipients WHERE outbox_id = ? ORDER BY address`, id)
	if err != nil {
		return nil, fmt.Errorf("store: outbox %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r OutboxRecipientState
		var next, notified int64
		if err := rows.Scan(&r.Address, &r.Status, &r.Attempts, &next, &r.LastError, &notified); err != nil {
			return nil, fmt.Errorf("store: outbox %d: %w", id, err)
		}
		r.NextAttempt = sqldb.FromMicro(next)
		r.DelayNotified = notified != 0
		m.Recipients = append(m.Recipients, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: outbox %d: %w", id, err)
	}
	return &m, nil
}

// RecordOutboxAttempts stores the outcomes of delivery attempts, possibly
// for several outbox entries, in one transaction, which the outcomes of
// concurrent calls share (a group commit: one WAL sync for many
// deliveries); it returns once they are durable. Only recipients still
// queued are changed: a final state is never overwritten (a job that ran
// twice records its first outcome). When remove is true, an entry left
// without a queued recipient is deleted, with its bytes unless a mailbox
// still holds them. Attempts naming a missing entry or recipient are
// ignored (the entry was removed by an earlier run).
//
// The hooks (AddOutboxHook) see, in the same transaction, the outcomes
// that changed a queued recipient, so what they record and the outbox's
// outcome are never seen apart.
func (s *Store) RecordOutboxAttempts(ctx context.Context, attempts []OutboxAttempt, remove bool) error {
	for _, a := range attempts {
		switch a.Status {
		case OutboxQueued, OutboxDelivered, OutboxFailed, OutboxExpired:
		default:
			return fmt.Errorf("store: outbox %d: status %q: %w", a.OutboxID, a.Status, ErrInvalid)
		}
	}
	if len(attempts) == 0 {
		return nil
	}
	_, err := s.recordBatch.Do(ctx, recordReq{attempts: attempts, remove: remove})
	return err
}

// recordReq is one RecordOutboxAttempts call waiting for the group commit
// of outcomes (Store.recordBatch): the outcomes of concurrent deliveries
// share one transaction and one WAL sync.
type recordReq struct {
	attempts []OutboxAttempt
	remove   bool
}

// recordOutcomes is the transaction of the outcome group commit. The
// attempts of consecutive requests alike in remove are recorded together,
// so the hooks see them at once. Any error fails the whole transaction and
// the batcher retries each request alone.
func (s *Store) recordOutcomes(ctx context.Context, reqs []recordReq) ([]*OutboxTx, []error, error) {
	var otx *OutboxTx
	err := s.db.WriteTxNoSync(ctx, func(tx dbtx) error {
		otx = &OutboxTx{tx: tx}
		hooks := s.hooks()
		for i := 0; i < len(reqs); {
			all, j := reqs[i].attempts, i+1
			for ; j < len(reqs) && reqs[j].remove == reqs[i].remove; j++ {
				all = append(all[:len(all):len(all)], reqs[j].attempts...)
			}
			if _, err := s.recordAttempts(ctx, otx, all, reqs[i].remove, hooks); err != nil {
				return err
			}
			i = j
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	rs := make([]*OutboxTx, len(reqs))
	for i := range rs {
		rs[i] = otx
	}
	return rs, make([]error, len(reqs)), nil
}

// outcomesDurable runs the AfterCommit functions of a durable batch of
// outcomes (all its requests share one OutboxTx), before the callers are
// answered.
func (s *Store) outcomesDurable(rs []*OutboxTx, _ []error) {
	if len(rs) > 0 && rs[0] != nil {
		rs[0].committed(context.Background(), s.log)
	}
}

// RecordOutboxInProgress tells the hooks that the first attempt of entry
// id, begun at started, is still running (OutboxOutcome.InProgress for
// each of recipients). The outbox itself does not change.
func (s *Store) RecordOutboxInProgress(ctx context.Context, id int64, recipients []string, started time.Time) error {
	if len(s.hooks()) == 0 {
		return nil
	}
	var otx *OutboxTx
	err := s.writeTx(ctx, func(tx dbtx, _ changes) error {
		otx = &OutboxTx{tx: tx}
		outcomes := make([]OutboxOutcome, len(recipients))
		for i, r := range recipients {
			outcomes[i] = OutboxOutcome{OutboxID: id, Recipient: r, Status: OutboxQueued, Started: started, InProgress: true}
		}
		return runOutboxHooks(ctx, otx, s.hooks(), []int64{id}, func() ([]OutboxOutcome, error) { return outcomes, nil })
	})
	if err != nil {
		return err
	}
	otx.committed(ctx, s.log)
	return nil
}

// RecordOutboxAttemptsTx is RecordOutboxAttempts in tx, a transaction of
// another store on the same database, telling only hooks (not those of
// AddOutboxHook): the caller records with the outcome what its hooks
// report, in its own transaction. AfterCommit is not run: hooks given here
// must not depend on it. It reports how many attempts changed a queued
// recipient.
func (s *Store) RecordOutboxAttemptsTx(ctx context.Context, tx sqldb.Tx, attempts []OutboxAttempt, remove bool, hooks ...OutboxHook) (int, error) {
	for _, a := range attempts {
		switch a.Status {
		case OutboxQueued, OutboxDelivered, OutboxFailed, OutboxExpired:
		default:
			return 0, fmt.Errorf("store: outbox %d: status %q: %w", a.OutboxID, a.Status, ErrInvalid)
		}
	}
	return s.recordAttempts(ctx, &OutboxTx{tx: tx}, attempts, remove, hooks)
}

// committed runs the AfterCommit functions; one that panics is logged and
// does not stop the others (the outcomes are already durable).
func (t *OutboxTx) committed(ctx context.Context, log *slog.Logger) {
	for _, f := range t.after {
		func() {
			defer func() {
				if p := recover(); p != nil {
					log.Error("store: outbox hook panicked after commit", "panic", p, "stack", string(debug.Stack()))
				}
			}()
			f(context.WithoutCancel(ctx))
		}()
	}
}

// runOutboxHooks calls hooks' OutboxRecording for ids, then record, then
// the hooks that asked for them with the outcomes record returned.
func runOutboxHooks(ctx context.Context, tx *OutboxTx, hooks []OutboxHook, ids []int64, record func() ([]OutboxOutcome, error)) error {
	var fns []func(context.Context, *OutboxTx, []OutboxOutcome) error
	for _, h := range hooks {
		fn, err := h.OutboxRecording(ctx, tx, ids)
		if err != nil {
			return err
		}
		if fn != nil {
			fns = append(fns, fn)
		}
	}
	outcomes, err := record()
	if err != nil {
		return err
	}
	if len(outcomes) == 0 {
		return nil
	}
	for _, fn := range fns {
		if err := fn(ctx, tx, outcomes); err != nil {
			return err
		}
	}
	return nil
}

// recordAttempts is RecordOutboxAttempts in tx, with hooks. It reports how
// many attempts changed a queued recipient.
func (s *Store) recordAttempts(ctx context.Context, otx *OutboxTx, attempts []OutboxAttempt, remove bool, hooks []OutboxHook) (int, error) {
	tx := otx.tx
	now := sqldb.Micro(time.Now())
	// The statements are prepared once per store (sqldb's statement cache).
	const attempted = `UPDATE outbox_recipients SET status = ?, next_attempt_at = ?, last_error = ?,
		attempts = attempts + 1, delay_notified = CASE WHEN ? = 1 THEN 1 ELSE delay_notified END, updated_at = ?
		WHERE outbox_id = ? AND address = ? AND status = 'queued'`
	const noted = `UPDATE outbox_recipients SET status = ?, next_attempt_at = ?,
		delay_notified = CASE WHEN ? = 1 THEN 1 ELSE delay_notified END, updated_at = ?
		WHERE outbox_id = ? AND address = ? AND status = 'queued'`
	var ids []int64
	seen := map[int64]bool{}
	for _, a := range attempts {
		if !seen[a.OutboxID] {
			seen[a.OutboxID] = true
			ids = append(ids, a.OutboxID)
		}
	}
	total := 0
	err := runOutboxHooks(ctx, otx, hooks, ids, func() ([]OutboxOutcome, error) {
		var changed []OutboxOutcome // the recipient was queued
		for _, a := range attempts {
			notified := 0
			if a.DelayNotified {
				notified = 1
			}
			var res sql.Result
			var err error
			if a.NotAttempted {
				res, err = tx.Exec(ctx, noted, a.Status, sqldb.Micro(a.NextAttempt), notified, now, a.OutboxID, a.Address)
			} else {
				res, err = tx.Exec(ctx, attempted, a.Status, sqldb.Micro(a.NextAttempt), a.LastError, notified, now, a.OutboxID, a.Address)
			}
			if err != nil {
				return nil, fmt.Errorf("store: record attempt for outbox %d: %w", a.OutboxID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("store: record attempt for outbox %d: %w", a.OutboxID, err)
			}
			total += int(n)
			if n > 0 && len(hooks) > 0 {
				changed = append(changed, OutboxOutcome{OutboxID: a.OutboxID, Recipient: a.Address, Status: a.Status,
					Final: a.Status != OutboxQueued, Reply: a.LastError, Started: a.Started, NotAttempted: a.NotAttempted})
			}
		}
		return changed, nil
	})
	if err != nil || !remove {
		return total, err
	}
	var blobs []int64
	for len(ids) > 0 {
		n := min(len(ids), chunkSize)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		rows, err := tx.Query(ctx, `DELETE FROM outbox WHERE id IN (`+sqldb.Placeholders(n)+`) AND NOT EXISTS
			(SELECT 1 FROM outbox_recipients r WHERE r.outbox_id = outbox.id AND r.status = 'queued') RETURNING blob_id`, args...)
		if err != nil {
			return total, fmt.Errorf("store: remove finished outbox entries: %w", err)
		}
		for rows.Next() {
			var b int64
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return total, fmt.Errorf("store: remove finished outbox entries: %w", err)
			}
			blobs = append(blobs, b)
		}
		if err := rows.Close(); err != nil {
			return total, fmt.Errorf("store: remove finished outbox entries: %w", err)
		}
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("store: remove finished outbox entries: %w", err)
		}
	}
	return total, s.gcBlobs(ctx, tx, blobs)
}

// OutboxDuePage lists, in ascending ID order, the IDs greater than after of
// outbox entries with a queued recipient whose next attempt is at or before
// t: one page of the queue sweeper's walk (the last ID is the next cursor).
func (s *Store) OutboxDuePage(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.r().Query(ctx, `SELECT DISTINCT outbox_id FROM outbox_recipients
		WHERE status = 'queued' AND next_attempt_at <= ? AND outbox_id > ? ORDER BY outbox_id LIMIT ?`, sqldb.Micro(t), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: outbox due: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: outbox due: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: outbox due: %w", err)
	}
	return out, nil
}
