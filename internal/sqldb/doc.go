// Package sqldb is the SQL layer under congthu's stores: what differs
// between the two backends (SQLite, the embedded default, and PostgreSQL
// when several nodes share one database), and the schema migrations that
// each store registers for its own tables.
//
// One database holds every store's tables, and one table,
// schema_migrations, records which migrations it has. Migrations are
// numbered across all owners (NNNN_description.sql, each number used once);
// an owner registers its files with Register from an init function, and
// Migrate applies, in number order, each registered migration that the
// database does not have yet. A database written by a newer program (one
// that has a migration numbered above every registered one) is refused.
package sqldb
