// Package blob is the table of message bytes that the mail store and the
// outbox share: a message delivered to local mailboxes and to remote
// recipients is stored once, and both the mail store's messages and the
// outbox's entries reference it by blob_id. A blob lives while something
// references it; whoever drops a reference hands the blob to DeleteUnused
// in the same transaction.
//
// The table itself is created by the mail store's first migration.
package blob

import (
	"context"
	"fmt"
	"slices"
	"time"

	"congthu/internal/sqldb"
)

// AddEmpty stores, in tx, an empty blob (no bytes yet: a message composed
// when it is delivered) and returns its ID.
func AddEmpty(ctx context.Context, tx sqldb.Tx, now time.Time) (int64, error) {
	return tx.InsertID(ctx, "INSERT INTO blobs (raw, size, header_len, body_text, created_at) VALUES (?, 0, 0, '', ?) RETURNING id",
		[]byte{}, sqldb.Micro(now))
}

// DeleteUnused deletes, in tx, those of the given blobs that no message
// and no outbox entry references.
func DeleteUnused(ctx context.Context, tx sqldb.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for len(ids) > 0 {
		n := min(len(ids), chunkSize)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		_, err := tx.Exec(ctx, `DELETE FROM blobs WHERE id IN (`+sqldb.Placeholders(n)+`)
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = blobs.id)
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.blob_id = blobs.id)`, args...)
		if err != nil {
			return fmt.Errorf("store: delete unused message bytes: %w", err)
		}
	}
	return nil
}

// chunkSize bounds the number of values in one IN (...) list.
const chunkSize = 500
