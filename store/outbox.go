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
