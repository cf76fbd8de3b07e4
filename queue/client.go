package queue

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// group is the consumer group every worker of every queue reads in.
const group = "workers"

// keyPrefix starts every key of the package.
const keyPrefix = "congthu:"

var queueName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// keys are the Redis keys of one queue, in the order the scripts expect.
type keys []string

func keysOf(q string) (keys, error) {
	if !queueName.MatchString(q) {
		return nil, fmt.Errorf("queue: bad queue name %q (want 1-64 of A-Z a-z 0-9 . _ -)", q)
	}
	p := keyPrefix + "{" + q + "}:"
	return keys{p + "stream", p + "delayed", p + "delayed:job", p + "live", p + "dead", p + "dead:at", p + "dead:err"}, nil
}

func (k keys) stream() string  { return k[0] }
func (k keys) delayed() string { return k[1] }
func (k keys) djobs() string   { return k[2] }
func (k keys) dead() string    { return k[4] }
func (k keys) deadAt() string  { return k[5] }
func (k keys) deadErr() string { return k[6] }

// MaxPayload is the largest Job.Payload Enqueue accepts: the store holds
// the data, a job only points at it.
const MaxPayload = 64 << 10

// Client enqueues jobs and inspects and manages queues. It is safe for
// concurrent use. The Redis client belongs to the caller; a *redis.Client
// serving a Worker needs a PoolSize of at least the Worker's total
// concurrency plus a few.
type Client struct {
	rdb redis.UniversalClient
}

// NewClient returns a Client over rdb.
func NewClient(rdb redis.UniversalClient) *Client { return &Client{rdb: rdb} }

// Redis returns the Redis client the Client uses.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Enqueue makes j ready now. It reports whether it changed anything: false
// means a copy of the job was already live (ready, in flight or delayed to no
// later than now). A delayed copy is brought forward. A dead letter with the
// same ID is replaced by the new job.
func (c *Client) Enqueue(ctx context.Context, j Job) (bool, error) {
	return c.EnqueueAt(ctx, j, time.Time{})
}

// EnqueueIn is EnqueueAt(ctx, j, time.Now().Add(d)).
func (c *Client) EnqueueIn(ctx context.Context, j Job, d time.Duration) (bool, error) {
	return c.EnqueueAt(ctx, j, time.Now().Add(d))
}

// EnqueueAt makes j due at t (the zero time or a past time: now). If a copy
// of the job is live and due no later than t, nothing changes and it returns
// false; a delayed copy due later is moved to t.
func (c *Client) EnqueueAt(ctx context.Context, j Job, t time.Time) (bool, error) {
	if j.ID == "" {
		return false, errors.New("queue: enqueue: job without ID")
	}
	if len(j.Payload) > MaxPayload {
		return false, fmt.Errorf("queue: enqueue %s: payload of %d bytes, more than %d: keep it in the store", j.ID, len(j.Payload), MaxPayload)
	}
	k, err := keysOf(j.Queue)
	if err != nil {
		return false, err
	}
	now := time.Now()
	if j.EnqueuedAt.IsZero() {
		j.EnqueuedAt = now
	}
	blob, err := encodeJob(&j)
	if err != nil {
		return false, err
	}
	// Due times are kept in milliseconds, rounded up: a job never runs
	// before its time (truncating let one start up to 1 ms early).
	due := t.UnixMilli()
	if t.After(time.UnixMilli(due)) {
		due++
	}
	if t.IsZero() {
		due = 0
	}
	n, err := scriptEnqueue.Run(ctx, c.rdb, k, j.ID, blob, due, now.UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("queue: enqueue %s to %s: %w", j.ID, j.Queue, err)
	}
	return n > 0, nil
}

// EnqueueMany enqueues jobs (of any queues) as Enqueue would, in one round
// trip to Redis. It returns the first error; jobs before and after it may
// have been enqueued (enqueueing is idempotent: retry them all).
func (c *Client) EnqueueMany(ctx context.Context, jobs []Job) error {
	if len(jobs) == 1 {
		_, err := c.Enqueue(ctx, jobs[0])
		return err
	}
	pipe := c.rdb.Pipeline()
	check, err := c.QueueMany(ctx, pipe, jobs)
	if err != nil {
		return err
	}
	pipe.Exec(ctx) // each command holds its own error, which check reads
	return check(ctx)
}

// QueueMany adds to p what EnqueueMany sends for jobs, so that a caller can
// share one pipeline among several requests (see internal/redisbatch).
// Once p has run, check returns what EnqueueMany would have: it enqueues
// the jobs again one by one when Redis had lost its scripts (a restart).
func (c *Client) QueueMany(ctx context.Context, p redis.Pipeliner, jobs []Job) (check func(context.Context) error, err error) {
	now := time.Now()
	jobs = slices.Clone(jobs) // EnqueuedAt is set on the copies
	blobs := make([]string, len(jobs))
	ks := make([]keys, len(jobs))
	for i, j := range jobs {
		if j.ID == "" {
			return nil, errors.New("queue: enqueue: job without ID")
		}
		if len(j.Payload) > MaxPayload {
			return nil, fmt.Errorf("queue: enqueue %s: payload of %d bytes, more than %d: keep it in the store", j.ID, len(j.Payload), MaxPayload)
		}
		if ks[i], err = keysOf(j.Queue); err != nil {
			return nil, err
		}
		if j.EnqueuedAt.IsZero() {
			j.EnqueuedAt = now
		}
		if blobs[i], err = encodeJob(&j); err != nil {
			return nil, err
		}
		jobs[i] = j
	}
	cmds := make([]*redis.Cmd, len(jobs))
	for i, j := range jobs {
		cmds[i] = scriptEnqueue.EvalSha(ctx, p, ks[i], j.ID, blobs[i], 0, now.UnixMilli())
	}
	return func(ctx context.Context) error {
		for _, cmd := range cmds {
			if err := cmd.Err(); redis.HasErrorPrefix(err, "NOSCRIPT") {
				// Redis lost its scripts (a restart): one by one,
				// loading it.
				for _, j := range jobs {
					if _, err := c.Enqueue(ctx, j); err != nil {
						return err
					}
				}
				return nil
			}
		}
		for i, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				return fmt.Errorf("queue: enqueue %s to %s: %w", jobs[i].ID, jobs[i].Queue, err)
			}
		}
		return nil
	}, nil
}

// restore makes ready every job of jobs (all of one queue) that Redis holds
// neither live nor dead, and returns how many.
func (c *Client) restore(ctx context.Context, queue string, jobs []Job) (int, error) {
	k, err := keysOf(queue)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	args := make([]any, 0, 1+2*len(jobs))
	args = append(args, now.UnixMilli())
	for i := range jobs {
		j := jobs[i]
		if j.ID == "" {
			continue
		}
		if j.EnqueuedAt.IsZero() {
			j.EnqueuedAt = now
		}
		blob, err := encodeJob(&j)
		if err != nil {
			return 0, err
		}
		args = append(args, j.ID, blob)
	}
	n, err := scriptRestore.Run(ctx, c.rdb, k, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("queue: restore %d jobs to %s: %w", len(jobs), queue, err)
	}
	return n, nil
}

// Drop removes job id from queue wherever it is (ready, in flight, delayed or
// dead) and reports whether it was there. A handler still running it
// finishes, but its retry or dead letter is not kept. The store decides
// whether the job comes back: a Sweeper re-enqueues it while the store says
// it is due.
func (c *Client) Drop(ctx context.Context, queue, id string) (bool, error) {
	k, err := keysOf(queue)
	if err != nil {
		return false, err
	}
	n, err := scriptDrop.Run(ctx, c.rdb, k, group, id).Int()
	if err != nil {
		return false, fmt.Errorf("queue: drop %s from %s: %w", id, queue, err)
	}
	return n > 0, nil
}

// Retry makes the dead letter id of queue ready again, keeping its Attempt
// count, and reports whether there was such a dead letter.
func (c *Client) Retry(ctx context.Context, queue, id string) (bool, error) {
	k, err := keysOf(queue)
	if err != nil {
		return false, err
	}
	n, err := scriptRetryDead.Run(ctx, c.rdb, k, 1, id).Int()
	if err != nil {
		return false, fmt.Errorf("queue: retry %s in %s: %w", id, queue, err)
	}
	return n > 0, nil
}

// RetryAllDead makes every dead letter of queue ready again and returns how
// many there were.
func (c *Client) RetryAllDead(ctx context.Context, queue string) (int, error) {
	k, err := keysOf(queue)
	if err != nil {
		return 0, err
	}
	const batch = 500
	total := 0
	for {
		n, err := scriptRetryDead.Run(ctx, c.rdb, k, batch).Int()
		if err != nil {
			return total, fmt.Errorf("queue: retry dead letters of %s: %w", queue, err)
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}

// CheckRedis checks that Redis suits the queues. It returns an error when
// Redis is unreachable or too old (Redis 6.2 or later is needed), and
// warnings for an eviction policy other than noeviction (Redis could then
// drop queued jobs under memory pressure) and for a server without
// persistence. A server that refuses CONFIG gives a warning, not an error.
func (c *Client) CheckRedis(ctx context.Context) ([]string, error) {
	info, err := c.rdb.Info(ctx, "server").Result()
	if err != nil {
		return nil, fmt.Errorf("queue: check redis: %w", err)
	}
	var warnings []string
	if v := infoField(info, "redis_version"); v != "" {
		if !versionAtLeast(v, 6, 2) {
			return nil, fmt.Errorf("queue: redis %s is too old: need 6.2 or later (XAUTOCLAIM)", v)
		}
	} else {
		warnings = append(warnings, "cannot tell the Redis version; the queues need 6.2 or later")
	}
	cfg, err := c.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	switch {
	case err != nil:
		warnings = append(warnings, fmt.Sprintf("cannot read maxmemory-policy (CONFIG disabled?): %v; it must be noeviction", err))
	case cfg["maxmemory-policy"] != "noeviction":
		warnings = append(warnings, fmt.Sprintf("Redis maxmemory-policy is %q: under memory pressure Redis may evict queued jobs (the sweeper restores them from the store, late); set it to noeviction", cfg["maxmemory-policy"]))
	}
	if err == nil {
		p, err := c.rdb.ConfigGet(ctx, "appendonly").Result()
		s, err2 := c.rdb.ConfigGet(ctx, "save").Result()
		if err == nil && err2 == nil && p["appendonly"] == "no" && strings.TrimSpace(s["save"]) == "" {
			warnings = append(warnings, "Redis has no persistence (appendonly no, no save points): after a restart jobs wait for the sweeper to restore them from the store")
		}
	}
	return warnings, nil
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
