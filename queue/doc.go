// Package queue is congthu's reliable work queue on Redis Streams.
//
// The SQL store is the system of record; Redis only schedules work. Every job
// names a row in the store by its ID (for example "outbox:123"), carries a
// small payload, and is handled at least once: handlers must be idempotent.
//
// A queue named q lives in these keys, all sharing the hash tag {q} so that
// every script touches one Redis Cluster slot:
//
//	congthu:{q}:stream      ready and in-flight jobs (stream, group "workers")
//	congthu:{q}:delayed     delayed jobs: sorted set of job IDs by due unix ms
//	congthu:{q}:delayed:job delayed jobs' data: hash job ID -> encoded job
//	congthu:{q}:live        index of live jobs: hash job ID -> "s:<entry ID>" or "d"
//	congthu:{q}:dead        dead letters: hash job ID -> encoded job
//	congthu:{q}:dead:at     dead letters by time of death (sorted set)
//	congthu:{q}:dead:err    dead letters' last error (hash)
//
// Every change goes through one Lua script, so the live index always agrees
// with the stream and the delayed set; the scripts still verify an index entry
// against the stream or sorted set before they trust it, so a stale index
// costs a duplicate at worst, never a lost job.
//
// Life of a job: Client.Enqueue XADDs it to the stream (EnqueueAt/EnqueueIn
// put it in the delayed set, from which a Worker's mover brings it back when
// due). A Worker reads it with XREADGROUP, runs the Handler and then
// acknowledges and deletes the entry (success), schedules a new attempt
// (RetryError or a plain error, with the queue's Backoff), or moves it to the
// dead letters (ErrPermanent, MaxAttempts). A worker that dies leaves its
// entries pending; while alive it renews their lease, and after the lease
// another worker reclaims them with XAUTOCLAIM. An entry delivered more than
// MaxDeliveries times (it keeps killing workers) is dead-lettered.
//
// De-duplication: enqueueing an ID that is already ready, in flight or delayed
// creates no second copy (an earlier due time brings a delayed job forward).
// It is a saving, not a guarantee: races (a Sweeper restoring a job that a
// worker finishes at the same moment) can still run a job twice.
//
// Due times are compared with the clock of the process that moves delayed
// jobs, so nodes' clocks should agree (NTP) to well under a second.
//
// Durability: a Sweeper periodically asks a Source (the store) which jobs are
// due and re-enqueues those Redis does not hold, so losing Redis (flushed,
// restarted without persistence, failed over) delays work by at most one
// sweep interval but loses none. Dead letters are kept out of sweeps; they
// are lost with Redis, and the Source then offers those jobs again.
package queue
