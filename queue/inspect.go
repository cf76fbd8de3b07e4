package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stats counts the jobs of one queue.
type Stats struct {
	Queue    string
	Ready    int64 // in the stream, not yet handed to a worker
	InFlight int64 // handed to a worker, not yet acknowledged (pending in the group)
	Delayed  int64 // waiting for their due time
	Dead     int64 // dead letters
	// OldestReady is how long the oldest ready job has been waiting to be
	// handed to a worker (0 when none is ready).
	OldestReady time.Duration
}

// Stats returns the counts of queue, read atomically.
func (c *Client) Stats(ctx context.Context, queue string) (Stats, error) {
	k, err := keysOf(queue)
	if err != nil {
		return Stats{}, err
	}
	r, err := scriptStats.Run(ctx, c.rdb, k, group).Slice()
	if err != nil {
		return Stats{}, fmt.Errorf("queue: stats of %s: %w", queue, err)
	}
	if len(r) < 5 {
		return Stats{}, fmt.Errorf("queue: stats of %s: short reply %v", queue, r)
	}
	st := Stats{Queue: queue}
	xlen, _ := r[0].(int64)
	st.InFlight, _ = r[1].(int64)
	st.Delayed, _ = r[2].(int64)
	st.Dead, _ = r[3].(int64)
	st.Ready = max(xlen-st.InFlight, 0)
	if first, ok := r[4].(string); ok && st.Ready > 0 {
		if ms, ok := entryTime(first); ok {
			st.OldestReady = max(time.Since(time.UnixMilli(ms)), 0)
		}
	}
	return st, nil
}

// entryTime returns the unix ms part of a stream entry ID.
func entryTime(eid string) (int64, bool) {
	ms, _, _ := strings.Cut(eid, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	return n, err == nil
}

// State is where a job is in its queue.
type State string

// The states of a job, for List.
const (
	Ready    State = "ready"
	InFlight State = "inflight"
	Delayed  State = "delayed"
	Dead     State = "dead"
)

// Info is a job as List shows it.
type Info struct {
	Job
	State State
	// DueAt is when a delayed job becomes ready.
	DueAt time.Time
	// DiedAt is when a dead letter died; Job.LastError says why.
	DiedAt time.Time
	// Consumer is the worker holding an in-flight job, and Idle how long
	// since it was delivered or its lease renewed.
	Consumer string
	Idle     time.Duration
}

// List returns up to limit jobs of queue in state (oldest first; delayed
// jobs by due time). A limit of 0 means 100.
func (c *Client) List(ctx context.Context, queue string, state State, limit int) ([]Info, error) {
	k, err := keysOf(queue)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	var out []Info
	switch state {
	case Ready:
		out, err = c.listReady(ctx, queue, k, limit)
	case InFlight:
		out, err = c.listInFlight(ctx, queue, k, limit)
	case Delayed:
		out, err = c.listSorted(ctx, queue, k.delayed(), k.djobs(), "", limit, Delayed)
	case Dead:
		out, err = c.listSorted(ctx, queue, k.deadAt(), k.dead(), k.deadErr(), limit, Dead)
	default:
		return nil, fmt.Errorf("queue: list: unknown state %q", state)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: list %s jobs of %s: %w", state, queue, err)
	}
	return out, nil
}

func (c *Client) listReady(ctx context.Context, queue string, k keys, limit int) ([]Info, error) {
	start := "-"
	groups, err := c.rdb.XInfoGroups(ctx, k.stream()).Result()
	if err != nil && !isNoGroup(err) && !strings.Contains(err.Error(), "no such key") {
		return nil, err
	}
	for _, g := range groups {
		if g.Name == group {
			start = "(" + g.LastDeliveredID
		}
	}
	msgs, err := c.rdb.XRangeN(ctx, k.stream(), start, "+", int64(limit)).Result()
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, m := range msgs {
		j, err := jobFromEntry(queue, m)
		if err != nil {
			return nil, err
		}
		out = append(out, Info{Job: *j, State: Ready})
	}
	return out, nil
}

func (c *Client) listInFlight(ctx context.Context, queue string, k keys, limit int) ([]Info, error) {
	pend, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: k.stream(), Group: group, Start: "-", End: "+", Count: int64(limit)}).Result()
	if isNoGroup(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(pend))
	for i, p := range pend {
		cmds[i] = pipe.XRange(ctx, k.stream(), p.ID, p.ID)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var out []Info
	for i, p := range pend {
		msgs, _ := cmds[i].Result()
		if len(msgs) == 0 {
			continue
		}
		j, err := jobFromEntry(queue, msgs[0])
		if err != nil {
			return nil, err
		}
		j.Deliveries = int(p.RetryCount)
		out = append(out, Info{Job: *j, State: InFlight, Consumer: p.Consumer, Idle: p.Idle})
	}
	return out, nil
}

func (c *Client) listSorted(ctx context.Context, queue, zkey, hkey, errkey string, limit int, state State) ([]Info, error) {
	zs, err := c.rdb.ZRangeWithScores(ctx, zkey, 0, int64(limit-1)).Result()
	if err != nil || len(zs) == 0 {
		return nil, err
	}
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i], _ = z.Member.(string)
	}
	blobs, err := c.rdb.HMGet(ctx, hkey, ids...).Result()
	if err != nil {
		return nil, err
	}
	var errs []any
	if errkey != "" {
		if errs, err = c.rdb.HMGet(ctx, errkey, ids...).Result(); err != nil {
			return nil, err
		}
	}
	var out []Info
	for i, id := range ids {
		blob, ok := blobs[i].(string)
		if !ok {
			continue
		}
		j, err := decodeJob(queue, id, blob)
		if err != nil {
			return nil, err
		}
		in := Info{Job: *j, State: state}
		at := time.UnixMilli(int64(zs[i].Score))
		if state == Dead {
			in.DiedAt = at
			if e, ok := errs[i].(string); ok {
				in.LastError = e
			}
		} else {
			in.DueAt = at
		}
		out = append(out, in)
	}
	return out, nil
}

// Queues returns the names of the queues that have a stream in Redis, sorted.
func (c *Client) Queues(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	scan := func(ctx context.Context, rdb redis.Cmdable) error {
		it := rdb.Scan(ctx, 0, keyPrefix+"{*}:*", 1000).Iterator()
		for it.Next(ctx) {
			rest := strings.TrimPrefix(it.Val(), keyPrefix+"{")
			if name, _, ok := strings.Cut(rest, "}"); ok && queueName.MatchString(name) {
				seen[name] = true
			}
		}
		return it.Err()
	}
	var err error
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		var mu = make(chan struct{}, 1)
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			mu <- struct{}{}
			defer func() { <-mu }()
			return scan(ctx, m)
		})
	} else {
		err = scan(ctx, c.rdb)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: list queues: %w", err)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

func jobFromEntry(queue string, m redis.XMessage) (*Job, error) {
	id, _ := m.Values["id"].(string)
	blob, _ := m.Values["j"].(string)
	if id == "" {
		return nil, fmt.Errorf("queue: entry %s of %s has no job ID", m.ID, queue)
	}
	return decodeJob(queue, id, blob)
}

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}
