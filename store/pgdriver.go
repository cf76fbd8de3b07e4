package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/jackc/pgx/v5"
)

// A minimal database/sql driver over pgx.Conn.
//
// pgx's own adapter (pgx/v5/stdlib) imports pgxpool and with it
// jackc/puddle, which this module does not require; this one keeps the
// store on one SQL layer (database/sql) for both backends without a new
// dependency. It supports what the store uses: ExecContext, QueryContext,
// BeginTx with isolation and read-only options, Ping. Statements are
// prepared and cached per connection by pgx.

const pgDriverName = "congthu-pgx"

var registerPG sync.Once

// openPG returns a *sql.DB for a postgres:// URL.
func openPG(url string) (*sql.DB, error) {
	registerPG.Do(func() { sql.Register(pgDriverName, pgDriver{}) })
	if _, err := pgx.ParseConfig(url); err != nil {
		return nil, err
	}
	return sql.Open(pgDriverName, url)
}

type pgDriver struct{}

func (pgDriver) Open(name string) (driver.Conn, error) {
	return pgDriver{}.connect(context.Background(), name)
}

func (pgDriver) OpenConnector(name string) (driver.Connector, error) {
	return pgConnector{url: name}, nil
}

func (pgDriver) connect(ctx context.Context, url string) (*pgConn, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	return &pgConn{c: c}, nil
}

type pgConnector struct{ url string }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	return pgDriver{}.connect(ctx, c.url)
}

func (pgConnector) Driver() driver.Driver { return pgDriver{} }

type pgConn struct {
	c  *pgx.Conn
	tx pgx.Tx
}

var (
	_ driver.ConnBeginTx        = (*pgConn)(nil)
	_ driver.ExecerContext      = (*pgConn)(nil)
	_ driver.QueryerContext     = (*pgConn)(nil)
	_ driver.Pinger             = (*pgConn)(nil)
	_ driver.SessionResetter    = (*pgConn)(nil)
	_ driver.Validator          = (*pgConn)(nil)
	_ driver.NamedValueChecker  = (*pgConn)(nil)
	_ driver.ConnPrepareContext = (*pgConn)(nil)
)

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return nil, errors.New("store: prepared statements are not supported by the pgx adapter")
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Prepare(query)
}

func (c *pgConn) Close() error { return c.c.Close(context.Background()) }

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var o pgx.TxOptions
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadCommitted:
		o.IsoLevel = pgx.ReadCommitted
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		o.IsoLevel = pgx.RepeatableRead
	case sql.LevelSerializable:
		o.IsoLevel = pgx.Serializable
	default:
		return nil, fmt.Errorf("store: unsupported isolation level %d", opts.Isolation)
	}
	if opts.ReadOnly {
		o.AccessMode = pgx.ReadOnly
	}
	tx, err := c.c.BeginTx(ctx, o)
	if err != nil {
		return nil, c.connErr(err)
	}
	c.tx = tx
	return pgTx{c}, nil
}

type pgTx struct{ c *pgConn }

func (t pgTx) Commit() error {
	tx := t.c.tx
	t.c.tx = nil
	return t.c.connErr(tx.Commit(context.Background()))
}

func (t pgTx) Rollback() error {
	tx := t.c.tx
	t.c.tx = nil
	return t.c.connErr(tx.Rollback(context.Background()))
}

// connErr reports a broken connection as driver.ErrBadConn so database/sql
// discards it.
func (c *pgConn) connErr(err error) error {
	if err != nil && c.c.IsClosed() {
		return fmt.Errorf("%w (%w)", driver.ErrBadConn, err)
	}
	return err
}

func args(named []driver.NamedValue) []any {
	out := make([]any, len(named))
	for i, n := range named {
		out[i] = n.Value
	}
	return out
}

// CheckNamedValue passes arguments to pgx unchanged.
func (c *pgConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *pgConn) ExecContext(ctx context.Context, query string, named []driver.NamedValue) (driver.Result, error) {
	tag, err := c.c.Exec(ctx, query, args(named)...)
	if err != nil {
		return nil, c.connErr(err)
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pgConn) QueryContext(ctx context.Context, query string, named []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.c.Query(ctx, query, args(named)...)
	if err != nil {
		return nil, c.connErr(err)
	}
	return &pgRows{c: c, rows: rows}, nil
}

func (c *pgConn) Ping(ctx context.Context) error {
	return c.connErr(c.c.Ping(ctx))
}

func (c *pgConn) ResetSession(ctx context.Context) error {
	if c.c.IsClosed() {
		return driver.ErrBadConn
	}
	return nil
}

func (c *pgConn) IsValid() bool { return !c.c.IsClosed() }

type pgRows struct {
	c    *pgConn
	rows pgx.Rows
	cols []string
}

func (r *pgRows) Columns() []string {
	if r.cols == nil {
		fds := r.rows.FieldDescriptions()
		r.cols = make([]string, len(fds))
		for i, fd := range fds {
			r.cols[i] = fd.Name
		}
	}
	return r.cols
}

func (r *pgRows) Close() error {
	r.rows.Close()
	return r.c.connErr(r.rows.Err())
}

func (r *pgRows) Next(dest []driver.Value) error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return r.c.connErr(err)
		}
		return io.EOF
	}
	vals, err := r.rows.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		switch x := v.(type) {
		case int32:
			dest[i] = int64(x)
		case int16:
			dest[i] = int64(x)
		case float32:
			dest[i] = float64(x)
		default:
			dest[i] = v
		}
	}
	return nil
}
