package notifydb

import (
	"context"
	"fmt"
	"time"

	"congthu/internal/sqldb"
)

// UsageRow is what one service sent on one channel in a period: live
// notifications only (test keys send nothing and cost nothing).
type UsageRow struct {
	Service       string
	Channel       string
	Notifications int64
	SMSParts      int64 // sms: parts a provider accepted (the cost is per part)
	Delivered     int64
	Failed        int64 // permanent, temporary or technical failure
	Pending       int64 // not final yet (created, sending, scheduled)
	CostVND       int64 // the prices recorded when each was sent
}

// Usage adds up the live notifications created in [from, to), per service
// and channel, ordered by service then channel; service "" is every
// service.
func (s *Store) Usage(ctx context.Context, from, to time.Time, service string) ([]UsageRow, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("notifydb: usage: from %s is not before to %s: %w", from, to, ErrInvalid)
	}
	q := `SELECT service, channel, COUNT(*),
		COALESCE(SUM(CASE WHEN channel = 'sms' THEN (SELECT COUNT(*) FROM sms_message_ids m WHERE m.notification_id = notifications.id) ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status IN ('permanent-failure', 'temporary-failure', 'technical-failure') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status IN ('created', 'sending', 'scheduled') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(price_vnd), 0)
		FROM notifications WHERE created_at >= ? AND created_at < ? AND test = 0`
	args := []any{sqldb.Micro(from), sqldb.Micro(to)}
	if service != "" {
		q += " AND service = ?"
		args = append(args, service)
	}
	q += " GROUP BY service, channel ORDER BY service, channel"
	rows, err := s.r().Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("notifydb: usage: %w", err)
	}
	defer rows.Close()
	var out []UsageRow
	for rows.Next() {
		var u UsageRow
		if err := rows.Scan(&u.Service, &u.Channel, &u.Notifications, &u.SMSParts, &u.Delivered, &u.Failed, &u.Pending, &u.CostVND); err != nil {
			return nil, fmt.Errorf("notifydb: usage: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
