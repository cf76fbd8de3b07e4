package store

import (
	"context"
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
