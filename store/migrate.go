package store

import (
	"context"
	"embed"
	"io/fs"

	"congthu/internal/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// The store's migrations, registered with the SQL layer beside those of
// the other stores that share the database.
func init() {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	sqldb.Register("store", sub)
}

// migrate applies missing migrations (of every registered owner) in one
// transaction.
func (s *Store) migrate(ctx context.Context) error {
	err := s.writeTxOnce(ctx, func(tx dbtx) error {
		return sqldb.Migrate(ctx, tx.q, s.dialect, s.log)
	})
	if err != nil {
		return err
	}
	return s.durable()
}
