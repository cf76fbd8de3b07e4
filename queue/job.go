package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Job is one unit of work. Its ID names the row in the store that the work is
// about; the queue holds at most one live copy per ID (see the package doc).
type Job struct {
	// ID is the store row the job is about, e.g. "outbox:123". Required.
	ID string
	// Queue is the queue the job is in; set by the queue on every job it
	// returns.
	Queue string
	// Payload is small data for the handler; the row in the store is the
	// truth.
	Payload []byte
	// Attempt counts the earlier attempts of this job that ended in a retry:
	// 0 on the first run.
	Attempt int
	// EnqueuedAt is when the job was first enqueued; retries keep it.
	EnqueuedAt time.Time
	// LastError is the error of the previous attempt, if any.
	LastError string
	// Deliveries is how many times this copy of the job has been handed to
	// a worker: 1 normally, more when it was reclaimed from a worker that
	// died or lost its lease. Set by the Worker.
	Deliveries int
}

// wireJob is the encoding of a Job in Redis.
type wireJob struct {
	Payload    []byte `json:"p,omitempty"`
	Attempt    int    `json:"a,omitempty"`
	EnqueuedAt int64  `json:"t"`
	LastError  string `json:"e,omitempty"`
}

func encodeJob(j *Job) (string, error) {
	b, err := json.Marshal(wireJob{Payload: j.Payload, Attempt: j.Attempt, EnqueuedAt: j.EnqueuedAt.UnixMilli(), LastError: j.LastError})
	if err != nil {
		return "", fmt.Errorf("queue: encode job %s: %w", j.ID, err)
	}
	return string(b), nil
}

func decodeJob(queue, id, blob string) (*Job, error) {
	var w wireJob
	if err := json.Unmarshal([]byte(blob), &w); err != nil {
		return nil, fmt.Errorf("queue: decode job %s in %s: %w", id, queue, err)
	}
	return &Job{ID: id, Queue: queue, Payload: w.Payload, Attempt: w.Attempt,
		EnqueuedAt: time.UnixMilli(w.EnqueuedAt), LastError: w.LastError}, nil
}

// ErrPermanent marks a failure that retrying cannot fix: a handler returns an
// error wrapping it (see Permanent) and the job goes to the dead letters.
// Checked with errors.Is.
var ErrPermanent = errors.New("permanent failure")

// SkipRetry is another name for ErrPermanent, for readers used to asynq.
var SkipRetry = ErrPermanent

// Permanent wraps err so that errors.Is(result, ErrPermanent) holds and err
// stays reachable by errors.Is and errors.As.
func Permanent(err error) error {
	if err == nil {
		return ErrPermanent
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// RetryError asks for the job to be tried again at At. A handler returns it
// (see RetryAt) when it knows when to try again; a plain error is retried
// after the queue's Backoff.
type RetryError struct {
	At  time.Time
	Err error // the failure, for the log and Job.LastError; may be nil
}

// Error implements error.
func (e *RetryError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("retry at %s", e.At.Format(time.RFC3339))
	}
	return fmt.Sprintf("retry at %s: %v", e.At.Format(time.RFC3339), e.Err)
}

// Unwrap returns the failure.
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAt returns a RetryError asking for another attempt at t.
func RetryAt(t time.Time, err error) error { return &RetryError{At: t, Err: err} }

// Handler does the work of a job. A nil error acknowledges the job; see
// Worker for what errors do. Handle must be idempotent: a job can run more
// than once.
type Handler interface {
	Handle(ctx context.Context, j *Job) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, j *Job) error

// Handle calls f(ctx, j).
func (f HandlerFunc) Handle(ctx context.Context, j *Job) error { return f(ctx, j) }

// DefaultBackoff is the retry delay after the attempt-th failure when a queue
// sets no Backoff: 5 s doubling up to one hour, plus up to 10% jitter.
func DefaultBackoff(attempt int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d + rand.N(d/10+1)
}
