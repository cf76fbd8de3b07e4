// Package sqldb is the SQL layer under congthu's stores (the mail store,
// the MTA-STS cache, and the stores that split from it): one database,
// SQLite (the embedded default) or PostgreSQL when several nodes share it,
// opened once (Open) and shared.
//
// A DB has a read pool (Read, ReadTx) and a writer (Write for single
// statements, WriteTx for transactions, retried on a transient conflict).
// Statements are written with ? placeholders and rewritten for the
// backend (Dialect); on SQLite they are prepared once and cached
// (stmtcache.go). Every write returns once it is durable: on PostgreSQL
// COMMIT waits for that; on SQLite the writer's WAL goes through a VFS that
// gathers a commit's frames into one write (walvfs.go) and is fsynced after
// the commit, outside the write lock, one fsync covering every commit
// before it (walsync.go), while a background connection checkpoints
// (checkpoint.go). Writes that many goroutines make at once share
// transactions through a Batcher (batch.go), a group commit whose callers
// wait for durability (WriteTxNoSync, Committed, WaitDurable) outside the
// writer.
//
// One database holds every store's tables, and one table,
// schema_migrations, records which migrations it has. Migrations are
// numbered across all owners (NNNN_description.sql, each number used once);
// an owner registers its files with Register from an init function, and
// Migrate applies, in number order, each registered migration that the
// database does not have yet. A database written by a newer program (one
// that has a migration numbered above every registered one) is refused.
package sqldb
