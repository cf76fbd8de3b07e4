package store

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"congthu/internal/sqldb"
)

// MessageHeader is a message's raw header section with its internal
// date, size and stored envelope.
type MessageHeader struct {
	UID          uint32
	InternalDate time.Time
	Size         int64
	// Envelope is as stored, in the encoding of congthu/envelope; it may
	// be missing or of an older version (envelope.Current is false), and
	// then the caller computes it from Header.
	Envelope []byte
	Header   []byte // up to and including the blank line
}

// Headers yields the header sections and stored envelopes of the given
// messages in ascending UID order, for readers of a header field the
// envelope does not hold (THREAD's References) that need the envelope
// too, in one query. Missing UIDs are skipped. As Envelopes, it reads chunks of
// consecutive UIDs, by UID range when the chunk is dense; no query stays
// open while the caller runs.
func (s *Store) Headers(ctx context.Context, mailboxID int64, uids []uint32) iter.Seq2[*MessageHeader, error] {
	const cols = "SELECT m.uid, m.internal_date, m.size, b.envelope, substr(b.raw, 1, b.header_len) FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? AND "
	return func(yield func(*MessageHeader, error) bool) {
		u := append([]uint32(nil), uids...)
		slices.Sort(u)
		u = slices.Compact(u)
		for len(u) > 0 {
			chunk := u[:min(len(u), envelopeChunk)]
			u = u[len(chunk):]
			var out []MessageHeader
			err := func() error {
				rows, err := s.queryUIDChunk(ctx, cols, mailboxID, chunk)
				if err != nil {
					return err
				}
				defer rows.Close()
				out = make([]MessageHeader, 0, len(chunk))
				want := chunk
				var uid, date, size int64
				var env, hdr []byte
				for rows.Next() {
					if err := rows.Scan(&uid, &date, &size, &env, &hdr); err != nil {
						return err
					}
					// Range reads return UIDs not asked for: skip them.
					for len(want) > 0 && int64(want[0]) < uid {
						want = want[1:]
					}
					if len(want) == 0 || int64(want[0]) != uid {
						continue
					}
					out = append(out, MessageHeader{UID: uint32(uid), InternalDate: sqldb.FromMicro(date), Size: size, Envelope: env, Header: hdr})
					env, hdr = nil, nil
				}
				return rows.Err()
			}()
			if err != nil {
				yield(nil, fmt.Errorf("store: headers of mailbox %d: %w", mailboxID, err))
				return
			}
			for i := range out {
				if !yield(&out[i], nil) {
					return
				}
			}
		}
	}
}
