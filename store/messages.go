package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"congthu/envelope"
	"congthu/internal/blob"
	"congthu/internal/sqldb"
)

// lockedMailbox is a mailbox row read with its lock held.
type lockedMailbox struct {
	id, accountID, uidvalidity, uidnext, modseq, firstRecent int64
}

// lockMailbox reads and locks a mailbox row for the rest of the
// transaction. Callers locking several lock them in ascending ID order.
func (s *Store) lockMailbox(ctx context.Context, tx dbtx, id int64) (*lockedMailbox, error) {
	m := lockedMailbox{id: id}
	err := tx.Row(ctx, "SELECT account_id, uidvalidity, uidnext, highest_modseq, first_recent_uid FROM mailboxes WHERE id = ?"+s.dialect.ForUpdate, id).
		Scan(&m.accountID, &m.uidvalidity, &m.uidnext, &m.modseq, &m.firstRecent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: mailbox %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: lock mailbox %d: %w", id, err)
	}
	return &m, nil
}

// bumpModseq gives a mailbox its next modseq and returns it.
func bumpModseq(ctx context.Context, tx dbtx, id int64) (int64, error) {
	var modseq int64
	if err := tx.Row(ctx, "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq", id).Scan(&modseq); err != nil {
		return 0, fmt.Errorf("store: bump modseq of mailbox %d: %w", id, err)
	}
	return modseq, nil
}

// mailboxExists returns ErrNotFound unless the mailbox exists.
func (s *Store) mailboxExists(ctx context.Context, q dbtx, id int64) error {
	var one int
	err := q.Row(ctx, "SELECT 1 FROM mailboxes WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: mailbox %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: mailbox %d: %w", id, err)
	}
	return nil
}

// uidChunks sorts and deduplicates uids and splits them into query-sized
// argument lists.
func uidChunks(uids []uint32, size int) [][]any {
	u := append([]uint32(nil), uids...)
	sort.Slice(u, func(i, j int) bool { return u[i] < u[j] })
	var out [][]any
	var cur []any
	for i, x := range u {
		if i > 0 && x == u[i-1] {
			continue
		}
		cur = append(cur, int64(x))
		if len(cur) == size {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

const metaColumns = "m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.internal_zone, m.size"

func scanMeta(rows interface{ Scan(...any) error }, extra ...any) (MessageMeta, error) {
	var mm MessageMeta
	var uid, date, zone int64
	var mask int
	var kws string
	if err := rows.Scan(append([]any{&uid, &mm.ModSeq, &mask, &kws, &date, &zone, &mm.Size}, extra...)...); err != nil {
		return mm, err
	}
	mm.UID, mm.Flags, mm.InternalDate = uint32(uid), flagList(mask, kws), internalDate(date, zone)
	return mm, nil
}

// internalDate is a message's INTERNALDATE from its columns: the instant
// in the zone it was given with.
func internalDate(micro, zone int64) time.Time {
	t := sqldb.FromMicro(micro)
	if t.IsZero() {
		return t
	}
	return t.In(fixedZone(int(zone)))
}

// zones holds the fixed zones made so far by UTC offset: there are few.
var zones sync.Map

// fixedZone returns a zone for a UTC offset in seconds; an offset beyond
// a day (not written by this store) is UTC.
func fixedZone(off int) *time.Location {
	if off == 0 || off < -86400 || off > 86400 {
		return time.UTC
	}
	if z, ok := zones.Load(off); ok {
		return z.(*time.Location)
	}
	z, _ := zones.LoadOrStore(off, time.FixedZone("", off))
	return z.(*time.Location)
}

// zoneOf is the UTC offset in seconds of t's zone.
func zoneOf(t time.Time) int64 {
	_, off := t.Zone()
	return int64(off)
}

func queryMetas(ctx context.Context, q dbtx, query string, args ...any) ([]MessageMeta, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MessageMeta
	for rows.Next() {
		mm, err := scanMeta(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, mm)
	}
	return out, rows.Err()
}

// Messages returns every message's metadata in UID order (for SELECT).
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]MessageMeta, error) {
	var out []MessageMeta
	err := s.db.ReadTx(ctx, func(tx dbtx) error {
		if err := s.mailboxExists(ctx, tx, mailboxID); err != nil {
			return err
		}
		var err error
		out, err = queryMetas(ctx, tx, "SELECT "+metaColumns+" FROM messages m WHERE m.mailbox_id = ? ORDER BY m.uid", mailboxID)
		if err != nil {
			return fmt.Errorf("store: messages of mailbox %d: %w", mailboxID, err)
		}
		return nil
	})
	return out, err
}

// ChangesSince returns what changed in a mailbox after modseq (new
// messages, flag changes, expunges), for IMAP updates and IDLE.
func (s *Store) ChangesSince(ctx context.Context, mailboxID int64, modseq int64) (*Changes, error) {
	var c Changes
	err := s.db.ReadTx(ctx, func(tx dbtx) error {
		var uidnext int64
		err := tx.Row(ctx, "SELECT highest_modseq, uidnext FROM mailboxes WHERE id = ?", mailboxID).Scan(&c.HighestModSeq, &uidnext)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: mailbox %d: %w", mailboxID, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: changes of mailbox %d: %w", mailboxID, err)
		}
		c.UIDNext = uint32(uidnext)
		if modseq >= c.HighestModSeq {
			return nil
		}
		c.Changed, err = queryMetas(ctx, tx, "SELECT "+metaColumns+" FROM messages m WHERE m.mailbox_id = ? AND m.modseq > ? ORDER BY m.uid", mailboxID, modseq)
		if err != nil {
			return fmt.Errorf("store: changes of mailbox %d: %w", mailboxID, err)
		}
		rows, err := tx.Query(ctx, "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid", mailboxID, modseq)
		if err != nil {
			return fmt.Errorf("store: expunges of mailbox %d: %w", mailboxID, err)
		}
		defer rows.Close()
		for rows.Next() {
			var uid int64
			if err := rows.Scan(&uid); err != nil {
				return fmt.Errorf("store: expunges of mailbox %d: %w", mailboxID, err)
			}
			c.Expunged = append(c.Expunged, uint32(uid))
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: expunges of mailbox %d: %w", mailboxID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Message returns one message with its bytes. ErrNotFound.
func (s *Store) Message(ctx context.Context, mailboxID int64, uid uint32) (*Message, error) {
	var m Message
	var raw []byte
	mm, err := scanMeta(s.r().Row(ctx, "SELECT "+metaColumns+", b.raw, b.header_len FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? AND m.uid = ?",
		mailboxID, int64(uid)), &raw, &m.HeaderLen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: message %d in mailbox %d: %w", uid, mailboxID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: message %d in mailbox %d: %w", uid, mailboxID, err)
	}
	m.MessageMeta, m.Raw = mm, raw
	return &m, nil
}

// fetchChunk is how many messages with bytes are read per query.
const fetchChunk = 64

// MessagesByUID yields the given messages in ascending UID order; when
// headerOnly, Raw holds only the header section. Missing UIDs are skipped.
// Messages are read in chunks; no query stays open while the caller runs.
func (s *Store) MessagesByUID(ctx context.Context, mailboxID int64, uids []uint32, headerOnly bool) iter.Seq2[*Message, error] {
	rawExpr := "b.raw"
	if headerOnly {
		rawExpr = "substr(b.raw, 1, b.header_len)"
	}
	return func(yield func(*Message, error) bool) {
		for _, chunk := range uidChunks(uids, fetchChunk) {
			var msgs []*Message
			err := func() error {
				rows, err := s.r().Query(ctx, "SELECT "+metaColumns+", "+rawExpr+", b.header_len FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN ("+sqldb.Placeholders(len(chunk))+") ORDER BY m.uid",
					append([]any{mailboxID}, chunk...)...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					m := &Message{}
					var raw []byte
					mm, err := scanMeta(rows, &raw, &m.HeaderLen)
					if err != nil {
						return err
					}
					if raw == nil {
						raw = []byte{}
					}
					m.MessageMeta, m.Raw = mm, raw
					msgs = append(msgs, m)
				}
				return rows.Err()
			}()
			if err != nil {
				yield(nil, fmt.Errorf("store: messages of mailbox %d: %w", mailboxID, err))
				return
			}
			for _, m := range msgs {
				if !yield(m, nil) {
					return
				}
			}
		}
	}
}

// MessageEnvelope is a message's metadata with its IMAP ENVELOPE in the
// encoding of congthu/envelope.
type MessageEnvelope struct {
	MessageMeta
	Envelope []byte // nil unless asked for
}

// envelopeChunk is how many messages Envelopes reads per query.
const envelopeChunk = 500

// Envelopes yields the metadata of the given messages in ascending UID
// order, with their pre-parsed envelopes when withEnvelope (for FETCH
// FLAGS, ENVELOPE and the like, which need no message bytes). Missing UIDs
// are skipped. An envelope missing from the database (a message stored
// before schema version 4, or by a path that does not compute it) or in
// an older encoding is computed from the header and written back.
//
// Messages are read in chunks of consecutive UIDs, by UID range when the
// chunk is dense; no query stays open while the caller runs. Messages
// with the same flags share one Flags slice, which callers must not
// modify.
func (s *Store) Envelopes(ctx context.Context, mailboxID int64, uids []uint32, withEnvelope bool) iter.Seq2[*MessageEnvelope, error] {
	cols := "SELECT " + metaColumns
	if withEnvelope {
		cols += ", b.id, b.envelope FROM messages m JOIN blobs b ON b.id = m.blob_id"
	} else {
		cols += " FROM messages m"
	}
	cols += " WHERE m.mailbox_id = ? AND "
	return func(yield func(*MessageEnvelope, error) bool) {
		u := append([]uint32(nil), uids...)
		slices.Sort(u)
		u = slices.Compact(u)
		type flagKey struct {
			mask int
			kws  string
		}
		flagsOf := map[flagKey][]string{}
		var (
			uid, modseq, date, zone, size, blobID int64
			mask                                  int
			kws                                   string
			env                                   sql.RawBytes
		)
		dest := []any{&uid, &modseq, &mask, &kws, &date, &zone, &size}
		if withEnvelope {
			dest = append(dest, &blobID, &env)
		}
		for len(u) > 0 {
			chunk := u[:min(len(u), envelopeChunk)]
			u = u[len(chunk):]
			var msgs []MessageEnvelope
			var stale []int // indexes in msgs whose envelope must be computed
			var blobOf []int64
			err := func() error {
				rows, err := s.queryUIDChunk(ctx, cols, mailboxID, chunk)
				if err != nil {
					return err
				}
				defer rows.Close()
				msgs = make([]MessageEnvelope, 0, len(chunk))
				// Envelope bytes of the chunk share one buffer.
				var arena []byte
				var ends []int
				want := chunk
				for rows.Next() {
					if err := rows.Scan(dest...); err != nil {
						return err
					}
					// Range reads return UIDs not asked for: skip them.
					for len(want) > 0 && int64(want[0]) < uid {
						want = want[1:]
					}
					if len(want) == 0 || int64(want[0]) != uid {
						continue
					}
					k := flagKey{mask, kws}
					fl, ok := flagsOf[k]
					if !ok {
						fl = flagList(mask, kws)
						flagsOf[k] = fl
					}
					msgs = append(msgs, MessageEnvelope{MessageMeta: MessageMeta{
						UID: uint32(uid), ModSeq: modseq, Flags: fl, InternalDate: internalDate(date, zone), Size: size}})
					if withEnvelope {
						if !envelope.Current(env) {
							stale = append(stale, len(msgs)-1)
							blobOf = append(blobOf, blobID)
						}
						arena = append(arena, env...)
						ends = append(ends, len(arena))
					}
				}
				if err := rows.Err(); err != nil {
					return err
				}
				start := 0
				for i, end := range ends {
					msgs[i].Envelope = arena[start:end:end]
					start = end
				}
				return nil
			}()
			if err == nil && len(stale) > 0 {
				err = s.fillEnvelopes(ctx, msgs, stale, blobOf)
			}
			if err != nil {
				yield(nil, fmt.Errorf("store: envelopes of mailbox %d: %w", mailboxID, err))
				return
			}
			for i := range msgs {
				if !yield(&msgs[i], nil) {
					return
				}
			}
		}
	}
}

// fillEnvelopes computes the envelopes of msgs[idx[i]] (blob blobs[i])
// from their headers and stores them, except over those a newer version
// of congthu wrote (still in msgs): while nodes of two versions run side
// by side, neither undoes the other's. A failure to store is only
// logged: the next read computes them again.
func (s *Store) fillEnvelopes(ctx context.Context, msgs []MessageEnvelope, idx []int, blobs []int64) error {
	computed := map[int64][]byte{}
	for _, chunk := range idChunks(blobs, chunkSize) {
		rows, err := s.r().Query(ctx, "SELECT id, substr(raw, 1, header_len) FROM blobs WHERE id IN ("+sqldb.Placeholders(len(chunk))+")", chunk...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var header []byte
			if err := rows.Scan(&id, &header); err != nil {
				rows.Close()
				return err
			}
			computed[id] = envelope.FromHeader(header)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	keep := map[int64]bool{}
	for i, j := range idx {
		if envelope.Newer(msgs[j].Envelope) {
			keep[blobs[i]] = true
		}
		msgs[j].Envelope = computed[blobs[i]]
	}
	err := s.db.WriteTxOnce(ctx, func(tx dbtx) error {
		for id, env := range computed {
			if keep[id] {
				continue
			}
			if _, err := tx.Exec(ctx, "UPDATE blobs SET envelope = ? WHERE id = ?", env, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("store: could not save computed envelopes", "blobs", len(computed), "err", err)
	} else {
		s.log.Debug("store: saved computed envelopes", "blobs", len(computed))
	}
	return nil
}

// idChunks deduplicates ids and splits them into query-sized argument
// lists.
func idChunks(ids []int64, size int) [][]any {
	seen := make(map[int64]bool, len(ids))
	var out [][]any
	var cur []any
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		cur = append(cur, id)
		if len(cur) == size {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// SearchTexts yields header bytes and folded body text of the given
// messages, for text SEARCH, in ascending UID order. A nil uids means
// every message of the mailbox.
func (s *Store) SearchTexts(ctx context.Context, mailboxID int64, uids []uint32) iter.Seq2[*SearchText, error] {
	const cols = "SELECT m.uid, substr(b.raw, 1, b.header_len), b.body_text FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? "
	read := func(query string, args ...any) ([]*SearchText, error) {
		rows, err := s.r().Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []*SearchText
		for rows.Next() {
			st := &SearchText{}
			var uid int64
			if err := rows.Scan(&uid, &st.Header, &st.Body); err != nil {
				return nil, err
			}
			st.UID = uint32(uid)
			out = append(out, st)
		}
		return out, rows.Err()
	}
	return func(yield func(*SearchText, error) bool) {
		emit := func(sts []*SearchText, err error) bool {
			if err != nil {
				yield(nil, fmt.Errorf("store: search texts of mailbox %d: %w", mailboxID, err))
				return false
			}
			for _, st := range sts {
				if !yield(st, nil) {
					return false
				}
			}
			return true
		}
		if uids == nil {
			var last int64
			for {
				sts, err := read(cols+"AND m.uid > ? ORDER BY m.uid LIMIT ?", mailboxID, last, fetchChunk)
				if !emit(sts, err) || len(sts) < fetchChunk {
					return
				}
				last = int64(sts[len(sts)-1].UID)
			}
		}
		for _, chunk := range uidChunks(uids, fetchChunk) {
			sts, err := read(cols+"AND m.uid IN ("+sqldb.Placeholders(len(chunk))+") ORDER BY m.uid", append([]any{mailboxID}, chunk...)...)
			if !emit(sts, err) {
				return
			}
		}
	}
}

// SetFlags changes flags of the given UIDs (missing UIDs are skipped) and
// returns the messages whose flags changed, with new modseqs. If
// unchangedSince > 0, messages with a higher modseq are left alone
// (CONDSTORE UNCHANGEDSINCE, RFC 7162 3.1.3). All changed messages get
// the same new modseq.
func (s *Store) SetFlags(ctx context.Context, mailboxID int64, uids []uint32, op StoreOp, flags []string, unchangedSince int64) ([]FlagUpdate, error) {
	opMask, opKws, err := parseFlags(flags)
	if err != nil {
		return nil, err
	}
	if op != FlagsSet && op != FlagsAdd && op != FlagsRemove {
		return nil, fmt.Errorf("store: STORE operation %d: %w", op, ErrInvalid)
	}
	var out []FlagUpdate
	err = s.writeTx(ctx, func(tx dbtx, ch changes) error {
		out = nil
		mb, err := s.lockMailbox(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		type state struct {
			mask int
			kws  string
		}
		groups := map[state][]any{}
		for _, chunk := range uidChunks(uids, chunkSize) {
			rows, err := tx.Query(ctx, "SELECT uid, modseq, flags, keywords FROM messages WHERE mailbox_id = ? AND uid IN ("+sqldb.Placeholders(len(chunk))+")",
				append([]any{mailboxID}, chunk...)...)
			if err != nil {
				return fmt.Errorf("store: set flags: %w", err)
			}
			for rows.Next() {
				var uid, modseq int64
				var mask int
				var kws string
				if err := rows.Scan(&uid, &modseq, &mask, &kws); err != nil {
					rows.Close()
					return fmt.Errorf("store: set flags: %w", err)
				}
				if unchangedSince > 0 && modseq > unchangedSince {
					continue
				}
				nm, nk := applyFlags(mask, kws, op, opMask, opKws)
				if nm == mask && nk == kws {
					continue
				}
				st := state{nm, nk}
				groups[st] = append(groups[st], uid)
				out = append(out, FlagUpdate{UID: uint32(uid), Flags: flagList(nm, nk)})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("store: set flags: %w", err)
			}
		}
		if len(out) == 0 {
			return nil
		}
		modseq, err := bumpModseq(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		for st, us := range groups {
			for len(us) > 0 {
				n := min(len(us), chunkSize)
				args := append([]any{st.mask, st.kws, modseq, mailboxID}, us[:n]...)
				us = us[n:]
				if _, err := tx.Exec(ctx, "UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid IN ("+sqldb.Placeholders(n)+")", args...); err != nil {
					return fmt.Errorf("store: set flags: %w", err)
				}
			}
			if err := addMailboxKeywords(ctx, tx, mailboxID, st.kws); err != nil {
				return err
			}
		}
		for i := range out {
			out[i].ModSeq = modseq
		}
		sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
		ch.add(mb.accountID, mailboxID, modseq)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Expunge removes messages flagged \Deleted; when uids is non-nil, only
// those among them (UID EXPUNGE). Returns the expunged UIDs, ascending.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error) {
	var out []uint32
	err := s.writeTx(ctx, func(tx dbtx, ch changes) error {
		out = nil
		mb, err := s.lockMailbox(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		var blobs []int64
		var freed int64
		del := func(query string, args ...any) error {
			rows, err := tx.Query(ctx, query, args...)
			if err != nil {
				return fmt.Errorf("store: expunge: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				var uid, blob, size int64
				if err := rows.Scan(&uid, &blob, &size); err != nil {
					return fmt.Errorf("store: expunge: %w", err)
				}
				freed += size
				out = append(out, uint32(uid))
				blobs = append(blobs, blob)
			}
			return rows.Err()
		}
		if uids == nil {
			if err := del("DELETE FROM messages WHERE mailbox_id = ? AND (flags & 8) <> 0 RETURNING uid, blob_id, size", mailboxID); err != nil {
				return err
			}
		} else {
			for _, chunk := range uidChunks(uids, chunkSize) {
				if err := del("DELETE FROM messages WHERE mailbox_id = ? AND (flags & 8) <> 0 AND uid IN ("+sqldb.Placeholders(len(chunk))+") RETURNING uid, blob_id, size",
					append([]any{mailboxID}, chunk...)...); err != nil {
					return err
				}
			}
		}
		if len(out) == 0 {
			return nil
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		modseq, err := bumpModseq(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		if err := s.recordExpunged(ctx, tx, mailboxID, out, modseq); err != nil {
			return err
		}
		if err := blob.DeleteUnused(ctx, tx, blobs); err != nil {
			return err
		}
		if err := freeUsage(ctx, tx, mb.accountID, freed); err != nil {
			return err
		}
		ch.add(mb.accountID, mailboxID, modseq)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// recordExpunged notes expunged UIDs for ChangesSince.
func (s *Store) recordExpunged(ctx context.Context, tx dbtx, mailboxID int64, uids []uint32, modseq int64) error {
	const per = 300
	for len(uids) > 0 {
		n := min(len(uids), per)
		args := make([]any, 0, 3*n)
		for _, u := range uids[:n] {
			args = append(args, mailboxID, int64(u), modseq)
		}
		uids = uids[n:]
		if _, err := tx.Exec(ctx, "INSERT INTO expunged (mailbox_id, uid, modseq) VALUES "+strings.TrimSuffix(strings.Repeat("(?, ?, ?),", n), ","), args...); err != nil {
			return fmt.Errorf("store: record expunged: %w", err)
		}
	}
	return nil
}

// Copy copies messages to another mailbox of the same account, keeping
// flags and internal dates (the bytes are shared, not duplicated).
func (s *Store) Copy(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64) (*CopyResult, error) {
	return s.copyMove(ctx, srcMailboxID, uids, dstMailboxID, false)
}

// Move moves messages atomically (RFC 6851): copy and expunge in one
// transaction.
func (s *Store) Move(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64) (*CopyResult, error) {
	return s.copyMove(ctx, srcMailboxID, uids, dstMailboxID, true)
}

func (s *Store) copyMove(ctx context.Context, srcID int64, uids []uint32, dstID int64, move bool) (*CopyResult, error) {
	var res *CopyResult
	err := s.writeTx(ctx, func(tx dbtx, ch changes) error {
		// Lock both in ascending ID order.
		first, second := min(srcID, dstID), max(srcID, dstID)
		a, err := s.lockMailbox(ctx, tx, first)
		if err != nil {
			return err
		}
		b := a
		if second != first {
			if b, err = s.lockMailbox(ctx, tx, second); err != nil {
				return err
			}
		}
		src, dst := a, b
		if srcID != first {
			src, dst = b, a
		}
		if src.accountID != dst.accountID {
			return fmt.Errorf("store: copy between accounts: %w", ErrInvalid)
		}
		res = &CopyResult{UIDValidity: uint32(dst.uidvalidity)}
		type msg struct {
			uid, blob, date, zone, size int64
			mask                        int
			kws                         string
		}
		var msgs []msg
		for _, chunk := range uidChunks(uids, chunkSize) {
			rows, err := tx.Query(ctx, "SELECT uid, blob_id, internal_date, internal_zone, size, flags, keywords FROM messages WHERE mailbox_id = ? AND uid IN ("+sqldb.Placeholders(len(chunk))+") ORDER BY uid",
				append([]any{srcID}, chunk...)...)
			if err != nil {
				return fmt.Errorf("store: copy: %w", err)
			}
			for rows.Next() {
				var m msg
				if err := rows.Scan(&m.uid, &m.blob, &m.date, &m.zone, &m.size, &m.mask, &m.kws); err != nil {
					rows.Close()
					return fmt.Errorf("store: copy: %w", err)
				}
				msgs = append(msgs, m)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("store: copy: %w", err)
			}
		}
		if len(msgs) == 0 {
			return nil
		}
		n := int64(len(msgs))
		if !move {
			// A copy adds bytes to the account (a move adds none).
			var added int64
			for _, m := range msgs {
				added += m.size
			}
			if err := s.addUsage(ctx, tx, dst.accountID, added); err != nil {
				return err
			}
		}
		var uidnext, modseq int64
		if err := tx.Row(ctx, `UPDATE mailboxes SET uidnext = uidnext + ?, highest_modseq = highest_modseq + ?
			WHERE id = ? RETURNING uidnext, highest_modseq`, n, n, dstID).Scan(&uidnext, &modseq); err != nil {
			return fmt.Errorf("store: copy: allocate UIDs: %w", err)
		}
		uid, ms := uidnext-n, modseq-n+1
		kwSet := map[string]bool{}
		const per = 100
		for i := 0; i < len(msgs); i += per {
			part := msgs[i:min(i+per, len(msgs))]
			args := make([]any, 0, 9*len(part))
			for _, m := range part {
				args = append(args, dstID, uid, m.blob, ms, m.date, m.zone, m.mask, m.kws, m.size)
				res.SrcUIDs = append(res.SrcUIDs, uint32(m.uid))
				res.DstUIDs = append(res.DstUIDs, uint32(uid))
				kwSet[m.kws] = true
				uid++
				ms++
			}
			if _, err := tx.Exec(ctx, "INSERT INTO messages (mailbox_id, uid, blob_id, modseq, internal_date, internal_zone, flags, keywords, size) VALUES "+
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?),", len(part)), ","), args...); err != nil {
				return fmt.Errorf("store: copy: %w", err)
			}
		}
		for kws := range kwSet {
			if err := addMailboxKeywords(ctx, tx, dstID, kws); err != nil {
				return err
			}
		}
		ch.add(dst.accountID, dstID, modseq)
		if !move {
			return nil
		}
		for _, chunk := range uidChunks(res.SrcUIDs, chunkSize) {
			if _, err := tx.Exec(ctx, "DELETE FROM messages WHERE mailbox_id = ? AND uid IN ("+sqldb.Placeholders(len(chunk))+")",
				append([]any{srcID}, chunk...)...); err != nil {
				return fmt.Errorf("store: move: %w", err)
			}
		}
		srcModseq, err := bumpModseq(ctx, tx, srcID)
		if err != nil {
			return err
		}
		if err := s.recordExpunged(ctx, tx, srcID, res.SrcUIDs, srcModseq); err != nil {
			return err
		}
		ch.add(src.accountID, srcID, srcModseq)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ClaimRecent atomically takes the \Recent messages of a mailbox for one
// session (RFC 3501 2.3.2: only one session sees a message as recent): it
// returns the UID range [from, to) that the caller should treat as recent,
// and advances the mailbox's first-recent UID to to.
func (s *Store) ClaimRecent(ctx context.Context, mailboxID int64) (from, to uint32, err error) {
	err = s.writeTx(ctx, func(tx dbtx, _ changes) error {
		mb, err := s.lockMailbox(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		from, to = uint32(mb.firstRecent), uint32(mb.uidnext)
		if mb.firstRecent >= mb.uidnext {
			from = to
			return nil
		}
		if _, err := tx.Exec(ctx, "UPDATE mailboxes SET first_recent_uid = ? WHERE id = ?", mb.uidnext, mailboxID); err != nil {
			return fmt.Errorf("store: claim recent: %w", err)
		}
		return nil
	})
	return from, to, err
}

// queryUIDChunk runs cols (a SELECT ending in "WHERE m.mailbox_id = ? AND ")
// for the ascending UIDs of chunk, ordered by UID: by UID range when the
// chunk is dense (the rows then include UIDs not asked for, which the
// caller skips), else by an IN list.
func (s *Store) queryUIDChunk(ctx context.Context, cols string, mailboxID int64, chunk []uint32) (*sql.Rows, error) {
	first, last := chunk[0], chunk[len(chunk)-1]
	if int(last-first) < 2*len(chunk) {
		return s.r().Query(ctx, cols+"m.uid >= ? AND m.uid <= ? ORDER BY m.uid", mailboxID, int64(first), int64(last))
	}
	args := make([]any, 0, len(chunk)+1)
	args = append(args, mailboxID)
	for _, x := range chunk {
		args = append(args, int64(x))
	}
	return s.r().Query(ctx, cols+"m.uid IN ("+sqldb.Placeholders(len(chunk))+") ORDER BY m.uid", args...)
}
