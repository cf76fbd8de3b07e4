package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MTASTSPolicy returns the MTA-STS policy kept for a destination domain:
// its id, its body as served and when it was fetched. ok is false when
// none is kept.
func (s *Store) MTASTSPolicy(ctx context.Context, domain string) (id, body string, fetchedAt time.Time, ok bool, err error) {
	var at int64
	err = s.r().row(ctx, "SELECT policy_id, body, fetched_at FROM mta_sts_policies WHERE domain = ?", domain).Scan(&id, &body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", time.Time{}, false, nil
	}
	if err != nil {
		return "", "", time.Time{}, false, fmt.Errorf("store: MTA-STS policy of %s: %w", domain, err)
	}
	return id, body, fromMicro(at), true, nil
}

// SaveMTASTSPolicy keeps a domain's MTA-STS policy, replacing the one kept
// before.
func (s *Store) SaveMTASTSPolicy(ctx context.Context, domain, id, body string, fetchedAt time.Time) error {
	_, err := s.w().exec(ctx, `INSERT INTO mta_sts_policies (domain, policy_id, body, fetched_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, body = excluded.body, fetched_at = excluded.fetched_at`,
		domain, id, body, micro(fetchedAt))
	if err != nil {
		return fmt.Errorf("store: keep MTA-STS policy of %s: %w", domain, err)
	}
	return nil
}
