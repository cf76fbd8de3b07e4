package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"congthu/internal/sqldb"
)

// OutboxJobQueue is the queue that delivers outbox entries: job
// "outbox:<id>" per entry, taken by the dispatcher (dispatcher.Queue) and
// shown in the API's metrics.
const OutboxJobQueue = "outbound"

// Outbox recipient states.
const (
	OutboxQueued    = "queued"
	OutboxDelivered = "delivered"
	OutboxFailed    = "failed"
	OutboxExpired   = "expired"
)

// AddOutboxTx adds, in tx (a transaction of another store on the same
// database), an outbox entry from mailFrom to recipient whose message is
// composed when it is delivered (its blob is empty; see the dispatcher's
// Options.Compose), and returns its ID. Once tx is durable, the caller
// calls OutboxAdded with the ID.
func (s *Store) AddOutboxTx(ctx context.Context, tx sqldb.Tx, mailFrom, recipient string, now time.Time) (int64, error) {
	// outbox.blob_id is required, and the blob goes with the entry when
	// it is removed.
	blobID, err := tx.InsertID(ctx, "INSERT INTO blobs (raw, size, header_len, body_text, created_at) VALUES (?, 0, 0, '', ?) RETURNING id",
		[]byte{}, sqldb.Micro(now))
	if err != nil {
		return 0, fmt.Errorf("store: add outbox entry: blob: %w", err)
	}
	id, err := tx.InsertID(ctx, "INSERT INTO outbox (blob_id, mail_from, size, created_at) VALUES (?, ?, 0, ?) RETURNING id",
		blobID, mailFrom, sqldb.Micro(now))
	if err != nil {
		return 0, fmt.Errorf("store: add outbox entry: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO outbox_recipients (outbox_id, address, next_attempt_at, updated_at) VALUES (?, ?, ?, ?)",
		id, recipient, sqldb.Micro(now), sqldb.Micro(now)); err != nil {
		return 0, fmt.Errorf("store: add outbox entry: recipient: %w", err)
	}
	return id, nil
}

// Outbox returns an outbox message with its recipients. ErrNotFound.
func (s *Store) Outbox(ctx context.Context, id int64) (*OutboxMessage, error) {
	var m OutboxMessage
	err := s.db.ReadTx(ctx, func(tx dbtx) error {
		var created int64
		err := tx.Row(ctx, "SELECT id, mail_from, size, created_at FROM outbox WHERE id = ?", id).Scan(&m.ID, &m.MailFrom, &m.Size, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: outbox %d: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: outbox %d: %w", id, err)
		}
		m.CreatedAt = sqldb.FromMicro(created)
		rows, err := tx.Query(ctx, "SELECT address, status, attempts, next_attempt_at, last_error FROM outbox_recipients WHERE outbox_id = ? ORDER BY address", id)
		if err != nil {
			return fmt.Errorf("store: outbox %d: %w", id, err)
		}
		defer rows.Close()
		for rows.Next() {
			var r OutboxRecipient
			var next int64
			if err := rows.Scan(&r.Address, &r.Status, &r.Attempts, &next, &r.LastError); err != nil {
				return fmt.Errorf("store: outbox %d: %w", id, err)
			}
			r.NextAttempt = sqldb.FromMicro(next)
			m.Recipients = append(m.Recipients, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// OutboxRaw returns the bytes of an outbox message.
func (s *Store) OutboxRaw(ctx context.Context, id int64) ([]byte, error) {
	var raw []byte
	err := s.r().Row(ctx, "SELECT b.raw FROM outbox o JOIN blobs b ON b.id = o.blob_id WHERE o.id = ?", id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: outbox %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: outbox %d: %w", id, err)
	}
	return raw, nil
}

// OutboxDue lists IDs of outbox messages with a queued recipient whose next
// attempt is at or before t (for the queue sweeper), oldest first.
func (s *Store) OutboxDue(ctx context.Context, t time.Time, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.r().Query(ctx, `SELECT outbox_id FROM outbox_recipients WHERE status = 'queued' AND next_attempt_at <= ?
		GROUP BY outbox_id ORDER BY MIN(next_attempt_at), outbox_id LIMIT ?`, sqldb.Micro(t), limit)
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
