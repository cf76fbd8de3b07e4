package store

import (
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
