package store

import (
	"context"
	"fmt"
	"strings"

	"congthu/internal/sqldb"
)

// bumpStamp is the new password_changed_at of an UPDATE that revokes an
// account's credentials (arguments: now, now in microseconds): now, or one
// microsecond after the old value if the clock (perhaps another node's)
// is behind it, so the stamp only ever grows.
const bumpStamp = "CASE WHEN ? > password_changed_at THEN ? ELSE password_changed_at + 1 END"

// CredentialStamp identifies the account's credentials as of the read:
// it grows with every password change and every disable (SetPassword,
// SetPasswordHash, SetDisabled). A session that logged in with an
// account read at stamp S must end once CredentialStamps shows a stamp
// above S, or no longer shows the account.
func (a *Account) CredentialStamp() int64 { return sqldb.Micro(a.PasswordChangedAt) }

// maxStampBatch bounds the IDs of one CredentialStamps query.
const maxStampBatch = 500

// CredentialStamps returns, for the accounts among ids that exist and are
// enabled, their current CredentialStamp. An account missing from the
// result was removed or is disabled: its sessions must end. It costs one
// indexed query per 500 IDs.
func (s *Store) CredentialStamps(ctx context.Context, ids []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), maxStampBatch)
		batch := ids[:n]
		ids = ids[n:]
		args := make([]any, n)
		for i, id := range batch {
			args[i] = id
		}
		q := "SELECT id, password_changed_at FROM accounts WHERE disabled = 0 AND id IN (?" + strings.Repeat(", ?", n-1) + ")"
		rows, err := s.r().Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("store: credential stamps: %w", err)
		}
		for rows.Next() {
			var id, stamp int64
			if err := rows.Scan(&id, &stamp); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: credential stamps: %w", err)
			}
			out[id] = stamp
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: credential stamps: %w", err)
		}
	}
	return out, nil
}
