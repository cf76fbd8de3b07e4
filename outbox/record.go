package outbox

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

	"congthu/internal/blob"
	"congthu/internal/sqldb"
)

// State is an outbox entry as the dispatcher sees it: the message's
// envelope and every recipient with its delivery state.
type State struct {
	ID         int64
	MailFrom   string
	Size       int64
	CreatedAt  time.Time
	Recipients []RecipientState
	// Raw is the message, exactly as accepted. It is empty for an entry
	// whose message is composed when it is delivered (see the
	// dispatcher's Options.Compose).
	Raw []byte
}

// Recipient is the delivery state of one remote recipient.
type Recipient struct {
	Address     string
	Status      string // Queued, Delivered, Failed (permanent), Expired
	Attempts    int
	NextAttempt time.Time
	LastError   string
}

// RecipientState is one recipient's delivery state, with whether the
// sender was already sent a delay notice for it.
type RecipientState struct {
	Recipient
	DelayNotified bool
}

// Attempt is the outcome of one delivery attempt to one recipient of
// an outbox entry, as RecordAttempts stores it.
type Attempt struct {
	OutboxID int64
	Address  string // as stored in the entry (see State)
	// Status is the recipient's new state: Queued (try again at
	// NextAttempt) or a final one (Delivered, Failed, Expired).
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
	// attempts); it is passed to the hooks (Outcome.Started).
	Started time.Time
}

// Outcome is one recipient's recorded outcome, as the outbox hooks
// see it.
type Outcome struct {
	OutboxID  int64
	Recipient string
	// Status is the recipient's outbox state: Queued, or one of the
	// final Delivered, Failed, Expired.
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
	// (RecordInProgress); nothing about the recipient changed.
	InProgress bool
}

// Tx is the recording transaction as a Hook uses it.
type Tx struct {
	tx    sqldb.Tx
	after []func(context.Context)
}

// Tx returns the recording transaction, for the hook's own statements.
func (t *Tx) Tx() sqldb.Tx { return t.tx }

// AfterCommit has f called once the transaction is durable (not when it
// fails or is tried again), in the goroutine that recorded, with a context
// that is not cancelled by the recorder's.
func (t *Tx) AfterCommit(f func(context.Context)) { t.after = append(t.after, f) }

// Hook subscribes to the outcomes of delivery attempts. OutboxRecording
// and the function it returns run inside the recording transaction: what
// a hook writes commits or fails with the outcomes.
type Hook interface {
	// OutboxRecording is called first in the transaction, before any
	// outbox row changes, with the entries about to be recorded (a hook
	// that takes locks takes them here). It returns what to call with
	// the outcomes, or nil when none of the entries concerns it.
	OutboxRecording(ctx context.Context, tx *Tx, ids []int64) (func(ctx context.Context, tx *Tx, outcomes []Outcome) error, error)
}

// AddHook subscribes h to the outcomes that RecordAttempts and
// RecordInProgress record. Hooks are added when the process is put
// together, before anything records.
func (s *Store) AddHook(h Hook) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	hooks := append(slices.Clone(s.hooks()), h)
	s.hookList.Store(&hooks)
}

// hooks returns the outbox hooks.
func (s *Store) hooks() []Hook {
	if p := s.hookList.Load(); p != nil {
		return *p
	}
	return nil
}

// State returns an outbox entry with its recipients (ordered by
// address), their bookkeeping and the message's bytes. ErrNotFound.
//
// It reads without a transaction (two queries instead of four on the hot
// path): the recipients may be a moment newer than the entry, which is
// harmless because RecordAttempts only changes queued recipients.
func (s *Store) State(ctx context.Context, id int64) (*State, error) {
	var m State
	var created int64
	err := s.r().Row(ctx, `SELECT o.id, o.mail_from, o.size, o.created_at, b.raw
		FROM outbox o JOIN blobs b ON b.id = o.blob_id WHERE o.id = ?`, id).Scan(
		&m.ID, &m.MailFrom, &m.Size, &created, &m.Raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("outbox: entry %d: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("outbox: entry %d: %w", id, err)
	}
	m.CreatedAt = sqldb.FromMicro(created)
	rows, err := s.r().Query(ctx, `SELECT address, status, attempts, next_attempt_at, last_error, delay_notified
		FROM outbox_recipients WHERE outbox_id = ? ORDER BY address`, id)
	if err != nil {
		return nil, fmt.Errorf("outbox: entry %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r RecipientState
		var next, notified int64
		if err := rows.Scan(&r.Address, &r.Status, &r.Attempts, &next, &r.LastError, &notified); err != nil {
			return nil, fmt.Errorf("outbox: entry %d: %w", id, err)
		}
		r.NextAttempt = sqldb.FromMicro(next)
		r.DelayNotified = notified != 0
		m.Recipients = append(m.Recipients, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: entry %d: %w", id, err)
	}
	return &m, nil
}

// RecordAttempts stores the outcomes of delivery attempts, possibly
// for several outbox entries, in one transaction, which the outcomes of
// concurrent calls share (a group commit: one WAL sync for many
// deliveries); it returns once they are durable. Only recipients still
// queued are changed: a final state is never overwritten (a job that ran
// twice records its first outcome). When remove is true, an entry left
// without a queued recipient is deleted, with its bytes unless a mailbox
// still holds them. Attempts naming a missing entry or recipient are
// ignored (the entry was removed by an earlier run).
//
// The hooks (AddHook) see, in the same transaction, the outcomes
// that changed a queued recipient, so what they record and the outbox's
// outcome are never seen apart.
func (s *Store) RecordAttempts(ctx context.Context, attempts []Attempt, remove bool) error {
	for _, a := range attempts {
		switch a.Status {
		case Queued, Delivered, Failed, Expired:
		default:
			return fmt.Errorf("outbox: entry %d: status %q: %w", a.OutboxID, a.Status, ErrInvalid)
		}
	}
	if len(attempts) == 0 {
		return nil
	}
	_, err := s.recordBatch.Do(ctx, recordReq{attempts: attempts, remove: remove})
	return err
}

// recordReq is one RecordAttempts call waiting for the group commit
// of outcomes (Store.recordBatch): the outcomes of concurrent deliveries
// share one transaction and one WAL sync.
type recordReq struct {
	attempts []Attempt
	remove   bool
}

// recordOutcomes is the transaction of the outcome group commit. The
// attempts of consecutive requests alike in remove are recorded together,
// so the hooks see them at once. Any error fails the whole transaction and
// the batcher retries each request alone.
func (s *Store) recordOutcomes(ctx context.Context, reqs []recordReq) ([]*Tx, []error, error) {
	var otx *Tx
	err := s.db.WriteTxNoSync(ctx, func(tx sqldb.Tx) error {
		otx = &Tx{tx: tx}
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
	rs := make([]*Tx, len(reqs))
	for i := range rs {
		rs[i] = otx
	}
	return rs, make([]error, len(reqs)), nil
}

// outcomesDurable runs the AfterCommit functions of a durable batch of
// outcomes (all its requests share one Tx), before the callers are
// answered.
func (s *Store) outcomesDurable(rs []*Tx, _ []error) {
	if len(rs) > 0 && rs[0] != nil {
		rs[0].committed(context.Background(), s.log)
	}
}

// RecordInProgress tells the hooks that the first attempt of entry
// id, begun at started, is still running (Outcome.InProgress for
// each of recipients). The outbox itself does not change.
func (s *Store) RecordInProgress(ctx context.Context, id int64, recipients []string, started time.Time) error {
	if len(s.hooks()) == 0 {
		return nil
	}
	var otx *Tx
	err := s.db.WriteTx(ctx, func(tx sqldb.Tx) error {
		otx = &Tx{tx: tx}
		outcomes := make([]Outcome, len(recipients))
		for i, r := range recipients {
			outcomes[i] = Outcome{OutboxID: id, Recipient: r, Status: Queued, Started: started, InProgress: true}
		}
		return runHooks(ctx, otx, s.hooks(), []int64{id}, func() ([]Outcome, error) { return outcomes, nil })
	})
	if err != nil {
		return err
	}
	otx.committed(ctx, s.log)
	return nil
}

// RecordAttemptsTx is RecordAttempts in tx, a transaction of
// another store on the same database, telling only hooks (not those of
// AddHook): the caller records with the outcome what its hooks
// report, in its own transaction. AfterCommit is not run: hooks given here
// must not depend on it. It reports how many attempts changed a queued
// recipient.
func (s *Store) RecordAttemptsTx(ctx context.Context, tx sqldb.Tx, attempts []Attempt, remove bool, hooks ...Hook) (int, error) {
	for _, a := range attempts {
		switch a.Status {
		case Queued, Delivered, Failed, Expired:
		default:
			return 0, fmt.Errorf("outbox: entry %d: status %q: %w", a.OutboxID, a.Status, ErrInvalid)
		}
	}
	return s.recordAttempts(ctx, &Tx{tx: tx}, attempts, remove, hooks)
}

// committed runs the AfterCommit functions; one that panics is logged and
// does not stop the others (the outcomes are already durable).
func (t *Tx) committed(ctx context.Context, log *slog.Logger) {
	for _, f := range t.after {
		func() {
			defer func() {
				if p := recover(); p != nil {
					log.Error("outbox: outbox hook panicked after commit", "panic", p, "stack", string(debug.Stack()))
				}
			}()
			f(context.WithoutCancel(ctx))
		}()
	}
}

// runHooks calls hooks' OutboxRecording for ids, then record, then
// the hooks that asked for them with the outcomes record returned.
func runHooks(ctx context.Context, tx *Tx, hooks []Hook, ids []int64, record func() ([]Outcome, error)) error {
	var fns []func(context.Context, *Tx, []Outcome) error
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

// recordAttempts is RecordAttempts in tx, with hooks. It reports how
// many attempts changed a queued recipient.
func (s *Store) recordAttempts(ctx context.Context, otx *Tx, attempts []Attempt, remove bool, hooks []Hook) (int, error) {
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
	err := runHooks(ctx, otx, hooks, ids, func() ([]Outcome, error) {
		var changed []Outcome // the recipient was queued
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
				return nil, fmt.Errorf("outbox: record attempt for entry %d: %w", a.OutboxID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("outbox: record attempt for entry %d: %w", a.OutboxID, err)
			}
			total += int(n)
			if n > 0 && len(hooks) > 0 {
				changed = append(changed, Outcome{OutboxID: a.OutboxID, Recipient: a.Address, Status: a.Status,
					Final: a.Status != Queued, Reply: a.LastError, Started: a.Started, NotAttempted: a.NotAttempted})
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
			return total, fmt.Errorf("outbox: remove finished outbox entries: %w", err)
		}
		for rows.Next() {
			var b int64
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return total, fmt.Errorf("outbox: remove finished outbox entries: %w", err)
			}
			blobs = append(blobs, b)
		}
		if err := rows.Close(); err != nil {
			return total, fmt.Errorf("outbox: remove finished outbox entries: %w", err)
		}
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("outbox: remove finished outbox entries: %w", err)
		}
	}
	return total, blob.DeleteUnused(ctx, tx, blobs)
}

// DuePage lists, in ascending ID order, the IDs greater than after of
// outbox entries with a queued recipient whose next attempt is at or before
// t: one page of the queue sweeper's walk (the last ID is the next cursor).
func (s *Store) DuePage(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.r().Query(ctx, `SELECT DISTINCT outbox_id FROM outbox_recipients
		WHERE status = 'queued' AND next_attempt_at <= ? AND outbox_id > ? ORDER BY outbox_id LIMIT ?`, sqldb.Micro(t), after, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: outbox due: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("outbox: outbox due: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: outbox due: %w", err)
	}
	return out, nil
}
