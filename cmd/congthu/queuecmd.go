package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/dispatcher"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/queue"
	"congthu/store"
)

// knownQueues are listed by `queue stats` even before they hold a job.
var knownQueues = []string{outbox.JobQueue}

// queueClient connects to the configured Redis for the queue commands.
func (c *cli) queueClient(ctx context.Context) (*queue.Client, func(), error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if cfg.RedisURL == "" {
		return nil, nil, errors.New("no Redis configured (CONGTHU_REDIS_URL): there are no queues")
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("redis_url: %w", err)
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("redis at %s: %w", opt.Addr, err)
	}
	return queue.NewClient(rdb), func() { rdb.Close() }, nil
}

// allQueues is the union of the known queues and those Redis holds.
func allQueues(ctx context.Context, q *queue.Client) ([]string, error) {
	names, err := q.Queues(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range append(append([]string{}, knownQueues...), names...) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func queueCommand() *command {
	var dead bool
	var all bool
	var name string
	var reason string
	withQueue := func(f func(ctx context.Context, c *cli, q *queue.Client, args []string) error) func(context.Context, *cli, *flag.FlagSet, []string) error {
		return func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			q, done, err := c.queueClient(ctx)
			if err != nil {
				return err
			}
			defer done()
			return f(ctx, c, q, args)
		}
	}
	// findQueue returns the queues to act on for a job ID: the one named
	// with --queue, or every queue.
	queuesFor := func(ctx context.Context, q *queue.Client) ([]string, error) {
		if name != "" {
			return []string{name}, nil
		}
		return allQueues(ctx, q)
	}
	queueFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&name, "queue", "", "only this queue (default: every queue)")
	}
	return &command{
		name:    "queue",
		summary: "inspect and repair the delivery queues (Redis)",
		subs: []*command{
			{
				name: "stats", summary: "per queue: ready, in flight, delayed, dead, age of the oldest ready job",
				run: withQueue(func(ctx context.Context, c *cli, q *queue.Client, args []string) error {
					if len(args) != 0 {
						return usagef("queue stats takes no arguments")
					}
					names, err := allQueues(ctx, q)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "QUEUE\tREADY\tINFLIGHT\tDELAYED\tDEAD\tOLDEST")
					for _, n := range names {
						s, err := q.Stats(ctx, n)
						if err != nil {
							return err
						}
						fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", n, s.Ready, s.InFlight, s.Delayed, s.Dead, s.OldestReady.Round(time.Millisecond))
					}
					return tw.Flush()
				}),
			},
			{
				name: "list", args: "[--dead] [--queue NAME]", summary: "list jobs: ready, in flight and delayed, or the dead letters",
				flags: func(fs *flag.FlagSet) {
					fs.BoolVar(&dead, "dead", false, "list the dead letters (with their last error)")
					queueFlag(fs)
				},
				run: withQueue(func(ctx context.Context, c *cli, q *queue.Client, args []string) error {
					if len(args) != 0 {
						return usagef("queue list takes no arguments")
					}
					names, err := queuesFor(ctx, q)
					if err != nil {
						return err
					}
					states := []queue.State{queue.Ready, queue.InFlight, queue.Delayed}
					if dead {
						states = []queue.State{queue.Dead}
					}
					tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "QUEUE\tID\tSTATE\tATTEMPT\tWHEN\tDETAIL")
					for _, n := range names {
						for _, st := range states {
							infos, err := q.List(ctx, n, st, 1000)
							if err != nil {
								return err
							}
							for _, in := range infos {
								when, detail := "", ""
								switch st {
								case queue.Delayed:
									when = "due " + in.DueAt.Format(time.RFC3339)
								case queue.Dead:
									when = "died " + in.DiedAt.Format(time.RFC3339)
									detail = in.LastError
								case queue.InFlight:
									when = "idle " + in.Idle.Round(time.Millisecond).String()
									detail = in.Consumer
								case queue.Ready:
									when = "since " + in.EnqueuedAt.Format(time.RFC3339)
								}
								fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", n, in.ID, st, in.Attempt, when, detail)
							}
						}
					}
					return tw.Flush()
				}),
			},
			{
				name: "retry", args: "[--queue NAME] ID | --all-dead", summary: "make a dead letter (or all of them) ready again",
				flags: func(fs *flag.FlagSet) {
					fs.BoolVar(&all, "all-dead", false, "retry every dead letter")
					queueFlag(fs)
				},
				run: withQueue(func(ctx context.Context, c *cli, q *queue.Client, args []string) error {
					if all == (len(args) == 1) || len(args) > 1 {
						return usagef("queue retry: give one job ID or --all-dead")
					}
					names, err := queuesFor(ctx, q)
					if err != nil {
						return err
					}
					total := 0
					for _, n := range names {
						if all {
							k, err := q.RetryAllDead(ctx, n)
							if err != nil {
								return err
							}
							total += k
							continue
						}
						ok, err := q.Retry(ctx, n, args[0])
						if err != nil {
							return err
						}
						if ok {
							total++
						}
					}
					if !all && total == 0 {
						return fmt.Errorf("no dead letter %s (see congthu queue list --dead)", args[0])
					}
					fmt.Fprintf(c.stdout, "%d job(s) made ready again\n", total)
					return nil
				}),
			},
			{
				name: "drop", args: "[--queue NAME] [--reason TEXT] ID",
				summary: "remove a job from Redis wherever it is; an outbound job (outbox:N) is cancelled in the store too, so it stays dropped",
				help: `Removes the job from Redis (ready, in flight, delayed or dead).

For an outbound mail job, outbox:N, the store is the system of record: drop
also marks every recipient of outbox entry N still queued as failed
("cancelled by operator: REASON"), like Postfix's postsuper -d, so the queue
sweeper does not bring the job back. No bounce (DSN) is sent; a notification
the email carries becomes permanent-failure and its service is called back.

For the jobs of other queues the store still decides whether they are due:
the sweeper may enqueue them again.`,
				flags: func(fs *flag.FlagSet) {
					queueFlag(fs)
					fs.StringVar(&reason, "reason", "congthu queue drop", "why, stored with each cancelled outbound recipient")
				},
				run: withQueue(func(ctx context.Context, c *cli, q *queue.Client, args []string) error {
					if len(args) != 1 {
						return usagef("queue drop: give one job ID")
					}
					names, err := queuesFor(ctx, q)
					if err != nil {
						return err
					}
					// Cancel in the store first: the sweeper cannot
					// restore the job between the two steps.
					cancelled := false
					if id, ok := outboxJobID(args[0]); ok && slices.Contains(names, dispatcher.Queue) {
						st, _, err := c.openStore(ctx)
						if err != nil {
							return err
						}
						defer st.Close()
						n, err := st.Outbox().Cancel(ctx, id, reason)
						if err == nil && n > 0 {
							// The notification the entry carries, if any,
							// fails with it.
							err = notifydb.New(st).OutboxCancelled(ctx, id)
						}
						switch {
						case errors.Is(err, store.ErrNotFound):
							fmt.Fprintf(c.stdout, "outbox %d is not in the store\n", id)
						case err != nil:
							return err
						default:
							cancelled = true
							fmt.Fprintf(c.stdout, "cancelled %d recipients of outbox %d\n", n, id)
						}
					}
					dropped := false
					for _, n := range names {
						ok, err := q.Drop(ctx, n, args[0])
						if err != nil {
							return err
						}
						dropped = dropped || ok
					}
					switch {
					case dropped:
						fmt.Fprintf(c.stdout, "job %s dropped\n", args[0])
					case cancelled:
						fmt.Fprintf(c.stdout, "job %s was not in the queues\n", args[0])
					default:
						return fmt.Errorf("no job %s in the queues", args[0])
					}
					return nil
				}),
			},
		},
	}
}

// outboxJobID returns the outbox entry an outbound job ID (outbox:N,
// dispatcher.JobID) names.
func outboxJobID(jobID string) (int64, bool) {
	n, ok := strings.CutPrefix(jobID, "outbox:")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(n, 10, 64)
	return id, err == nil && id > 0
}
