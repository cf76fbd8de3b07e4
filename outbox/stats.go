package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"congthu/internal/metrics"
	"congthu/internal/sqldb"
)

// Stats is the outbox's backlog at one moment.
type Stats struct {
	// Queued counts recipients still to be delivered: due now or
	// deferred to a later attempt.
	Queued int64
	// Due counts the queued recipients whose next attempt is due.
	Due int64
	// OldestDue is the earliest next attempt of a due recipient (zero
	// when none is due): how far delivery is behind.
	OldestDue time.Time
	// OldestQueued is when the oldest entry with a queued recipient was
	// added (zero when none is queued).
	OldestQueued time.Time
}

// Stats reads the backlog as of now: two queries over the index of queued
// recipients (outbox_recipients_due), cheap enough for every scrape.
func (s *Store) Stats(ctx context.Context, now time.Time) (Stats, error) {
	var st Stats
	var oldestNext sql.NullInt64
	if err := s.r().Row(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= ? THEN 1 ELSE 0 END), 0), MIN(next_attempt_at)
		FROM outbox_recipients WHERE status = 'queued'`, sqldb.Micro(now)).Scan(&st.Queued, &st.Due, &oldestNext); err != nil {
		return Stats{}, fmt.Errorf("outbox: stats: %w", err)
	}
	if st.Due > 0 && oldestNext.Valid {
		st.OldestDue = sqldb.FromMicro(oldestNext.Int64)
	}
	if st.Queued == 0 {
		return st, nil
	}
	var oldest sql.NullInt64
	if err := s.r().Row(ctx, `SELECT MIN(o.created_at) FROM outbox o
		WHERE EXISTS (SELECT 1 FROM outbox_recipients r WHERE r.outbox_id = o.id AND r.status = 'queued')`).Scan(&oldest); err != nil {
		return Stats{}, fmt.Errorf("outbox: stats: %w", err)
	}
	if oldest.Valid {
		st.OldestQueued = sqldb.FromMicro(oldest.Int64)
	}
	return st, nil
}

// RegisterMetrics registers the outbox's backlog in reg, read from the
// store at each scrape (Stats). now is the clock (nil: time.Now).
func (s *Store) RegisterMetrics(reg *metrics.Registry, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	// The three families share one reading per scrape.
	type statsKey struct{}
	type reading struct {
		st Stats
		at time.Time
	}
	read := func(ctx context.Context) (Stats, time.Time, error) {
		r, err := metrics.Once(ctx, statsKey{}, func() (reading, error) {
			t := now()
			st, err := s.Stats(ctx, t)
			return reading{st, t}, err
		})
		return r.st, r.at, err
	}
	reg.Collect("congthu_outbox_recipients", "Recipients in the outbox still to be delivered, by state: due (their next attempt is due) or deferred (waiting for a later attempt).",
		metrics.KindGauge, []string{"state"}, func(ctx context.Context, add func(float64, ...string)) error {
			st, _, err := read(ctx)
			if err != nil {
				return err
			}
			add(float64(st.Due), "due")
			add(float64(st.Queued-st.Due), "deferred")
			return nil
		})
	reg.Collect("congthu_outbox_oldest_due_seconds", "How long the longest-waiting due recipient has been due (0 when none is): how far outbound delivery is behind.",
		metrics.KindGauge, nil, func(ctx context.Context, add func(float64, ...string)) error {
			st, t, err := read(ctx)
			if err != nil {
				return err
			}
			add(age(t, st.OldestDue))
			return nil
		})
	reg.Collect("congthu_outbox_oldest_queued_age_seconds", "Age of the oldest outbox entry with a recipient still to be delivered (0 when none is); such mail expires at delivery.max_queue_age.",
		metrics.KindGauge, nil, func(ctx context.Context, add func(float64, ...string)) error {
			st, t, err := read(ctx)
			if err != nil {
				return err
			}
			add(age(t, st.OldestQueued))
			return nil
		})
}

// age is the seconds from then to now, 0 for a zero time.
func age(now, then time.Time) float64 {
	if then.IsZero() || then.After(now) {
		return 0
	}
	return now.Sub(then).Seconds()
}
