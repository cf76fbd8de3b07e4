package notifydb

// Test helpers: reads and writes the tests use and the program does not.

import (
	"context"
	"fmt"
	"time"
)

// setNotificationStatus is SetNotificationStatusEvent reporting only
// whether the status changed.
func (s *Store) setNotificationStatus(ctx context.Context, id, status, detail string, at time.Time) (changed bool, err error) {
	ev, err := s.SetNotificationStatusEvent(ctx, id, status, detail, at)
	return ev != nil, err
}

// eventsAfter returns up to limit (default 100, at most 1000) status events
// of a service with a cursor above after, in cursor order.
func (s *Store) eventsAfter(ctx context.Context, service string, after int64, limit int) ([]NotificationEvent, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.r().Query(ctx, "SELECT "+eventColumns+" FROM notification_events e JOIN notifications n ON n.id = e.notification_id WHERE e.service = ? AND e.id > ? ORDER BY e.id LIMIT ?",
		service, after, limit)
	if err != nil {
		return nil, fmt.Errorf("notifydb: events: %w", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("notifydb: events: %w", err)
	}
	return evs, nil
}
