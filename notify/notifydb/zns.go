package notifydb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"congthu/internal/sqldb"
)

// ZNSToken is the stored token pair of a Zalo app, with the quota Zalo
// last reported.
type ZNSToken struct {
	AppID       string
	Access      string
	Refresh     string // "" while none was ever stored
	Expires     time.Time
	RefreshedAt time.Time
	// QuotaDaily and QuotaRemaining are -1 until Zalo reports them.
	QuotaDaily, QuotaRemaining int
	QuotaAt                    time.Time
}

const znsColumns = "app_id, access_token, refresh_token, expires_at, refreshed_at, quota_daily, quota_remaining, quota_at"

func scanZNSToken(row interface{ Scan(...any) error }) (*ZNSToken, error) {
	var t ZNSToken
	var exp, ref, qat int64
	if err := row.Scan(&t.AppID, &t.Access, &t.Refresh, &exp, &ref, &t.QuotaDaily, &t.QuotaRemaining, &qat); err != nil {
		return nil, err
	}
	t.Expires, t.RefreshedAt, t.QuotaAt = sqldb.FromMicro(exp), sqldb.FromMicro(ref), sqldb.FromMicro(qat)
	return &t, nil
}

// ZNSToken returns the stored pair of appID; ErrNotFound when none was
// stored.
func (s *Store) ZNSToken(ctx context.Context, appID string) (*ZNSToken, error) {
	t, err := scanZNSToken(s.r().Row(ctx, "SELECT "+znsColumns+" FROM zns_tokens WHERE app_id = ? AND refresh_token <> ''", appID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: zns token of %s: %w", appID, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("notifydb: zns token of %s: %w", appID, err)
	}
	return t, nil
}

// AcquireZNSLease takes the refresh lease of appID for owner until until,
// when no other owner holds it past now. It returns whether it took it,
// and the stored pair (nil when none was stored yet).
func (s *Store) AcquireZNSLease(ctx context.Context, appID, owner string, now, until time.Time) (*ZNSToken, bool, error) {
	var tok *ZNSToken
	var took bool
	err := s.writeTx(ctx, func(tx dbtx) error {
		tok, took = nil, false
		if _, err := tx.Exec(ctx, "INSERT INTO zns_tokens (app_id) VALUES (?) ON CONFLICT (app_id) DO NOTHING", appID); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE zns_tokens SET lease_owner = ?, lease_until = ?
			WHERE app_id = ? AND (lease_owner = '' OR lease_owner = ? OR lease_until < ?)`,
			owner, sqldb.Micro(until), appID, owner, sqldb.Micro(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		took = n == 1
		t, err := scanZNSToken(tx.Row(ctx, "SELECT "+znsColumns+" FROM zns_tokens WHERE app_id = ?", appID))
		if err != nil {
			return err
		}
		if t.Refresh != "" {
			tok = t
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("notifydb: zns lease of %s: %w", appID, err)
	}
	return tok, took, nil
}

// SaveZNSToken stores a new pair of t.AppID and releases owner's lease.
// It stores the pair whoever holds the lease now: the pair Zalo just
// issued is the only valid one (the refresh token it replaced is spent).
func (s *Store) SaveZNSToken(ctx context.Context, owner string, t ZNSToken) error {
	if t.Access == "" || t.Refresh == "" {
		return fmt.Errorf("notifydb: zns token without access or refresh token: %w", ErrInvalid)
	}
	err := s.writeTx(ctx, func(tx dbtx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO zns_tokens (app_id) VALUES (?) ON CONFLICT (app_id) DO NOTHING", t.AppID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE zns_tokens SET access_token = ?, refresh_token = ?, expires_at = ?, refreshed_at = ?,
			lease_owner = CASE WHEN lease_owner = ? THEN '' ELSE lease_owner END,
			lease_until = CASE WHEN lease_owner = ? THEN 0 ELSE lease_until END WHERE app_id = ?`,
			t.Access, t.Refresh, sqldb.Micro(t.Expires), sqldb.Micro(t.RefreshedAt), owner, owner, t.AppID)
		return err
	})
	if err != nil {
		return fmt.Errorf("notifydb: save zns token of %s: %w", t.AppID, err)
	}
	return nil
}

// ReleaseZNSLease gives up owner's lease of appID, if it holds it.
func (s *Store) ReleaseZNSLease(ctx context.Context, appID, owner string) error {
	if _, err := s.w().Exec(ctx, "UPDATE zns_tokens SET lease_owner = '', lease_until = 0 WHERE app_id = ? AND lease_owner = ?", appID, owner); err != nil {
		return fmt.Errorf("notifydb: release zns lease of %s: %w", appID, err)
	}
	return nil
}
