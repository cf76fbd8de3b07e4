package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"congthu/internal/sqldb"
)

// Cancel is the operator's `congthu queue drop` of an outbound job,
// like Postfix's postsuper -d: every recipient of outbox entry id still
// queued becomes Failed with last_error "cancelled by operator:
// reason", so the entry is no longer due and the queue sweeper does not
// restore its job (a job that still runs finds nothing queued and does
// nothing). No DSN is sent, and the outbox hooks are not told. It returns
// how many recipients it cancelled (0 when none was queued any more);
// ErrNotFound for an unknown entry. The caller tells whoever owns the
// entry (the notification store's OutboxCancelled).
func (s *Store) Cancel(ctx context.Context, id int64, reason string) (int, error) {
	var n int
	err := s.db.WriteTx(ctx, func(tx sqldb.Tx) error {
		var one int
		err := tx.Row(ctx, "SELECT 1 FROM outbox WHERE id = ?", id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("outbox: entry %d: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("outbox: cancel entry %d: %w", id, err)
		}
		res, err := tx.Exec(ctx, `UPDATE outbox_recipients SET status = ?, last_error = ?, updated_at = ?
			WHERE outbox_id = ? AND status = 'queued'`,
			Failed, "cancelled by operator: "+reason, sqldb.Micro(time.Now()), id)
		if err != nil {
			return fmt.Errorf("outbox: cancel entry %d: %w", id, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("outbox: cancel entry %d: %w", id, err)
		}
		n = int(k)
		return nil
	})
	return n, err
}
