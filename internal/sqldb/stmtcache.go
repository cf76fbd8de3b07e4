package sqldb

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Prepared statements, kept for the life of the DB (SQLite).
//
// database/sql prepares, runs and finalizes a statement for every Exec or
// Query with arguments; for SQLite the parsing and planning was about a
// seventh of the server's CPU and a quarter of the writer's time. The stores
// run a fixed set of queries, so each is prepared once per connection and
// kept: a *sql.Stmt per query text on each pool, which database/sql
// re-prepares on whichever connection runs it. Transactions bind it with
// Tx.StmtContext; a query first seen inside a transaction runs unprepared
// and is prepared once the transaction has let go of its connection.
// Queries built with a variable number of placeholders are cached too
// while they are short; the cache has a ceiling so that an unusual one
// cannot grow it without bound. PostgreSQL needs none of this:
// pgx caches prepared statements per connection itself.
type stmtCache struct {
	db     *sql.DB
	mu     sync.RWMutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

const (
	stmtCacheMax      = 2048 // statements per pool
	stmtCacheMaxQuery = 2048 // longest query text cached
)

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// lookup returns the prepared statement for query, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[query]
}

// get returns the prepared statement for query, preparing it on the pool
// if needed, or nil when it is not cached (too long, cache full, or
// preparing failed: the caller runs the query unprepared and sees the
// error there). Not for use inside a transaction: preparing takes a
// connection from the pool, and the transaction may hold the only one.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if st := c.lookup(query); st != nil {
		return st
	}
	if len(query) > stmtCacheMaxQuery {
		return nil
	}
	c.mu.RLock()
	full := len(c.m) >= stmtCacheMax
	c.mu.RUnlock()
	if full {
		return nil
	}
	// Prepared without the lock held: preparing waits for a
	// connection, and a transaction holding one may be looking up
	// another statement. (ctx bounds the preparation only, not the
	// statement's life.)
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		st.Close()
		return old
	}
	c.m[query] = st
	return st
}

// want records a query a transaction ran unprepared; prepareWanted,
// called once the transaction has released its connection, prepares it.
func (c *stmtCache) want(query string) {
	if len(query) > stmtCacheMaxQuery {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wanted == nil {
		c.wanted = map[string]bool{}
	}
	if len(c.wanted) < 64 {
		c.wanted[query] = true
	}
}

func (c *stmtCache) prepareWanted() {
	c.mu.Lock()
	w := c.wanted
	c.wanted = nil
	c.mu.Unlock()
	// Bounded: preparing waits for a connection of the pool.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for q := range w {
		c.get(ctx, q)
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// cachedDB runs queries on a pool with cached statements.
type cachedDB struct {
	db *sql.DB
	c  *stmtCache
}

func (d cachedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := d.c.get(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return d.db.ExecContext(ctx, query, args...)
}

func (d cachedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := d.c.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.db.QueryContext(ctx, query, args...)
}

func (d cachedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := d.c.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.db.QueryRowContext(ctx, query, args...)
}

// cachedTx runs a transaction's queries with cached statements, binding
// each to the transaction once.
type cachedTx struct {
	tx    *sql.Tx
	c     *stmtCache
	bound map[*sql.Stmt]*sql.Stmt
}

func (t *cachedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	st := t.c.lookup(query)
	if st == nil {
		t.c.want(query)
		return nil
	}
	if b, ok := t.bound[st]; ok {
		return b
	}
	b := t.tx.StmtContext(ctx, st)
	if t.bound == nil {
		t.bound = map[*sql.Stmt]*sql.Stmt{}
	}
	t.bound[st] = b
	return b
}

func (t *cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// txQuerier returns the querier for a transaction on pool c (nil on
// PostgreSQL: the transaction itself). Call c.prepareWanted (nil-safe)
// after the transaction ends.
func txQuerier(tx *sql.Tx, c *stmtCache) Querier {
	if c == nil {
		return tx
	}
	return &cachedTx{tx: tx, c: c}
}

// afterTx prepares what a finished transaction ran unprepared.
func (c *stmtCache) afterTx() {
	if c != nil {
		c.prepareWanted()
	}
}
