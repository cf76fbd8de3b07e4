package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"congthu/internal/testenv"
)

// openBackends runs fn on a fresh SQLite database and a PostgreSQL one,
// each with an empty table t (k, v) of its own name.
func openBackends(t *testing.T, fn func(t *testing.T, db *DB, table string)) {
	t.Run("sqlite", func(t *testing.T) {
		db := openTestDB(t, t.TempDir())
		fn(t, db, "t")
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := Open(Options{URL: testenv.Postgres(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		table := fmt.Sprintf("t_%d", time.Now().UnixNano())
		err = db.WriteTx(ctx, func(tx Tx) error {
			_, err := tx.Exec(ctx, "CREATE TABLE "+table+" (id "+Postgres.ID+", k INTEGER UNIQUE, v BYTEA)")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Write().Exec(ctx, "DROP TABLE "+table) })
		fn(t, db, table)
	})
}

// InsertID returns the new row's id on both dialects: through RETURNING on
// PostgreSQL, through the last insert rowid on SQLite (where RETURNING is
// cut off).
func TestInsertID(t *testing.T) {
	openBackends(t, func(t *testing.T, db *DB, table string) {
		var ids []int64
		err := db.WriteTx(ctx, func(tx Tx) error {
			for k := range 3 {
				id, err := tx.InsertID(ctx, "INSERT INTO "+table+" (k) VALUES (?) RETURNING id", 10+k)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			var k int
			if err := db.Read().Row(ctx, "SELECT k FROM "+table+" WHERE id = ?", id).Scan(&k); err != nil || k != 10+i {
				t.Errorf("row %d: k %d (%v), want %d", id, k, err, 10+i)
			}
		}
		if ids[0] == ids[1] || ids[1] == ids[2] {
			t.Errorf("ids %v", ids)
		}
	})
}

// The classifiers recognise each backend's own errors: a unique violation
// is not transient and is not a foreign-key violation.
func TestErrorClassifiers(t *testing.T) {
	openBackends(t, func(t *testing.T, db *DB, table string) {
		if _, err := db.Write().Exec(ctx, "INSERT INTO "+table+" (k) VALUES (?)", 1); err != nil {
			t.Fatal(err)
		}
		_, err := db.Write().Exec(ctx, "INSERT INTO "+table+" (k) VALUES (?)", 1)
		if !IsUniqueViolation(err) || IsTransient(err) || IsForeignKeyViolation(err) {
			t.Errorf("duplicate key %v: unique %v, transient %v, foreign key %v", err, IsUniqueViolation(err), IsTransient(err), IsForeignKeyViolation(err))
		}
		if IsUniqueViolation(errors.New("x")) || IsTransient(errors.New("x")) || IsForeignKeyViolation(nil) {
			t.Error("a plain error classified")
		}
	})
}

// A transient conflict is retried (fn runs again from the start), a
// permanent error is not.
func TestWriteTxRetriesTransient(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	busy := busyError(t, db)
	if !IsTransient(busy) {
		t.Fatalf("%v: not transient", busy)
	}
	runs := 0
	err := db.WriteTx(ctx, func(tx Tx) error {
		runs++
		if runs < 3 {
			return busy
		}
		_, err := tx.Exec(ctx, "INSERT INTO t (k) VALUES (?)", 7)
		return err
	})
	if err != nil || runs != 3 {
		t.Fatalf("WriteTx: %v after %d runs, want success at the third", err, runs)
	}
	runs = 0
	perm := errors.New("permanent")
	if err := db.WriteTx(ctx, func(Tx) error { runs++; return perm }); !errors.Is(err, perm) || runs != 1 {
		t.Fatalf("permanent error: %v after %d runs, want 1 run", err, runs)
	}
}

// busyError returns the error SQLite gives a second writer (with no busy
// timeout) while the DB's writer holds a write transaction.
func busyError(t *testing.T, db *DB) error {
	t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.WriteTxOnce(ctx, func(tx Tx) error {
			tx.Exec(ctx, "INSERT INTO t (k) VALUES (?)", -1)
			close(held)
			<-hold
			return errors.New("rolled back")
		})
	}()
	<-held
	defer func() { close(hold); <-done }()
	raw, err := sql.Open("sqlite", "file:"+strings.TrimSuffix(db.wal.path, "-wal")+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, err = raw.Exec("INSERT INTO t (k) VALUES (-2)")
	if err == nil {
		t.Fatal("second writer not refused")
	}
	return err
}

// The batcher groups concurrent requests into few transactions, a request
// that fails fails alone, and DB.Close stops it: later requests get
// ErrClosed.
func TestBatcher(t *testing.T) {
	openBackends(t, func(t *testing.T, db *DB, table string) {
		bad := errors.New("bad request")
		b := NewBatcher(db, BatcherOptions{}, func(ctx context.Context, ks []int) ([]int64, []error, error) {
			ids := make([]int64, len(ks))
			errs := make([]error, len(ks))
			err := db.WriteTxNoSync(ctx, func(tx Tx) error {
				for i, k := range ks {
					if k < 0 {
						errs[i] = bad
						continue
					}
					id, err := tx.InsertID(ctx, "INSERT INTO "+table+" (k) VALUES (?) RETURNING id", k)
					if err != nil {
						return err
					}
					ids[i] = id
				}
				return nil
			})
			return ids, errs, err
		}, nil)
		const n = 80
		if _, err := db.Write().Exec(ctx, "INSERT INTO "+table+" (k) VALUES (?)", 1000); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, n+2)
		for i := range n {
			wg.Go(func() { _, errs[i] = b.Do(ctx, i) })
		}
		wg.Wait()
		batches, reqs := b.Stats()
		if reqs != n || batches >= n {
			t.Errorf("%d requests in %d transactions: not grouped", reqs, batches)
		}
		// A duplicate fails its batch, then alone.
		for i := range 10 {
			wg.Go(func() { b.Do(ctx, 100+i) })
		}
		wg.Go(func() { _, errs[n] = b.Do(ctx, -1) })
		wg.Go(func() { _, errs[n+1] = b.Do(ctx, 1000) })
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("request %d: %v", i, errs[i])
			}
		}
		if !errors.Is(errs[n], bad) {
			t.Errorf("bad request: %v", errs[n])
		}
		if !IsUniqueViolation(errs[n+1]) {
			t.Errorf("duplicate: %v, want a unique violation", errs[n+1])
		}
		var rows int
		if err := db.Read().Row(ctx, "SELECT COUNT(*) FROM "+table).Scan(&rows); err != nil || rows != n+11 {
			t.Fatalf("%d rows (%v), want %d", rows, err, n+11)
		}
		db.Close()
		select {
		case <-b.Done():
		default:
			t.Error("batcher still running after DB.Close")
		}
		if _, err := b.Do(ctx, 2000); !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	})
}

// A durable batcher answers its callers only once the batch is durable,
// after its hook has run once for the batch; Close waits for a batch whose
// WAL sync is in flight and its callers are told it is durable.
func TestDurableBatcher(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	syncing, release := make(chan struct{}, 16), make(chan struct{})
	db.WrapWALSync(func(real func() error) func() error {
		return func() error {
			syncing <- struct{}{}
			<-release
			return real()
		}
	})
	var hooks []int
	var mu sync.Mutex
	b := NewDurableBatcher(db, BatcherOptions{NoGather: true}, func(ctx context.Context, ks []int) ([]int, []error, error) {
		err := db.WriteTxNoSync(ctx, func(tx Tx) error {
			for _, k := range ks {
				if _, err := tx.Exec(ctx, "INSERT INTO t (k) VALUES (?)", k); err != nil {
					return err
				}
			}
			return nil
		})
		return ks, make([]error, len(ks)), err
	}, func(rs []int, errs []error) {
		mu.Lock()
		defer mu.Unlock()
		hooks = append(hooks, len(rs))
	})
	done := make(chan error, 1)
	go func() {
		k, err := b.Do(ctx, 1)
		if err == nil && k != 1 {
			err = fmt.Errorf("result %d, want 1", k)
		}
		done <- err
	}()
	<-syncing // committed, its sync held
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-done:
		t.Fatalf("answered (%v) before the WAL sync returned", err)
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a batch's sync was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	mu.Lock()
	if len(hooks) != 0 {
		t.Fatal("hook ran before the WAL sync returned")
	}
	mu.Unlock()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("committed request: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0] != 1 {
		t.Fatalf("hook calls %v, want one of 1 request", hooks)
	}
}

// GatherBatch takes what is there, waits for more only below want and only
// up to the wait, and stops at max or when the channel closes.
func TestGatherBatch(t *testing.T) {
	ch := make(chan int, 10)
	ch <- 2
	ch <- 3
	if got := GatherBatch(ch, []int{1}, 10, 0, time.Hour); len(got) != 3 {
		t.Fatalf("want 0: %v, want [1 2 3] at once", got)
	}
	ch <- 2
	go func() { time.Sleep(20 * time.Millisecond); ch <- 3 }()
	if got := GatherBatch(ch, []int{1}, 10, 3, 5*time.Second); len(got) != 3 {
		t.Fatalf("want 3: %v", got)
	}
	start := time.Now()
	if got := GatherBatch(ch, []int{1}, 10, 5, 30*time.Millisecond); len(got) != 1 || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("nothing more within the wait: %v after %v", got, time.Since(start))
	}
	for i := range 5 {
		ch <- i
	}
	if got := GatherBatch(ch, []int{1}, 3, 0, 0); len(got) != 3 || len(ch) != 3 {
		t.Fatalf("max 3: %v, %d left", got, len(ch))
	}
	close(ch)
	if got := GatherBatch(ch, nil, 10, 10, time.Hour); len(got) != 3 {
		t.Fatalf("closed channel: %v, want the 3 left", got)
	}
}
