package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"congthu/envelope"
	"congthu/internal/blob"
	"congthu/internal/mailaddr"
	"congthu/internal/sqldb"
	"congthu/internal/vntime"
	"congthu/mailhdr"
	"congthu/mailtext"
)

// Group commit.
//
// Deliver and Append build a deliverReq (parsing flags, extracting the
// search text: the CPU work, done in the caller's goroutine) and hand it to
// the delivery batcher (a sqldb.Batcher that answers once durable). It
// takes every request waiting, up to maxBatch, and stores them in one
// transaction: one commit, one fsync. While it commits, new requests queue
// up and form the next batch, so the batch size adapts to the load without
// a timer.
//
// In the transaction it first resolves every request's mailboxes (a
// request whose mailbox is missing fails alone, before anything is
// written), then allocates UIDs and modseqs with one UPDATE ... RETURNING
// per mailbox, in ascending mailbox ID order (the lock order of every
// writer, so processes sharing PostgreSQL do not deadlock), then inserts.
// If the transaction fails as a whole, each request is retried in a
// transaction of its own, so one bad request fails alone.

// maxBatch is the most requests committed in one transaction.
const maxBatch = 128

type deliverReq struct {
	raw       []byte
	headerLen int
	body      string
	envelope  []byte // IMAP ENVELOPE, see congthu/envelope
	date      int64
	zone      int64 // the UTC offset of date's zone, in seconds
	targets   []target
	mailFrom  string
	remote    []string
	partial   bool // Delivery.PartialQuota

	// Set while committing.
	err    error
	result deliverRes
}

type target struct {
	accountID int64  // 0 for Append
	name      string // normalized; for Deliver
	mailboxID int64  // set for Append, resolved for Deliver
	mask      int
	keywords  string
	overQuota bool // set while committing: left out, its account is full
}

type deliverRes struct {
	local    []AppendResult
	outboxID int64
	// overQuota lists the accounts left out (Delivery.PartialQuota).
	overQuota []int64
	// ch is the mailboxes the request's transaction changed (shared by
	// the requests of one batch).
	ch changes
}

// Deliver stores one accepted message durably: the bytes once, one message
// row per local target (UIDs allocated from each mailbox's UIDNEXT, O(1) in
// the mailbox's size) and an outbox entry for remote recipients, all in one
// transaction. It returns after the commit is durable (SQLite WAL with
// WAL synced after the commit, see internal/sqldb; PostgreSQL commit). Concurrent calls are batched into
// shared transactions (group commit) without weakening durability; one bad
// delivery in a batch does not fail the others.
func (s *Store) Deliver(ctx context.Context, d *Delivery) (*DeliveryResult, error) {
	if d == nil || len(d.Raw) == 0 {
		return nil, fmt.Errorf("store: deliver: empty message: %w", ErrInvalid)
	}
	if len(d.Local) == 0 && len(d.Remote) == 0 {
		return nil, fmt.Errorf("store: deliver: no recipients: %w", ErrInvalid)
	}
	req := newReq(d.Raw, d.InternalDate)
	for _, lt := range d.Local {
		name := "INBOX"
		if lt.Mailbox != "" {
			if n, err := NormalizeMailboxName(lt.Mailbox); err == nil {
				name = n
			}
		}
		mask, kws, err := parseFlags(lt.Flags)
		if err != nil {
			return nil, fmt.Errorf("store: deliver: %w", err)
		}
		if lt.AccountID <= 0 {
			return nil, fmt.Errorf("store: deliver: account ID %d: %w", lt.AccountID, ErrInvalid)
		}
		req.targets = append(req.targets, target{accountID: lt.AccountID, name: name, mask: mask, keywords: joinKeywords(kws)})
	}
	if len(d.Remote) > 0 {
		seen := map[string]bool{}
		for _, rcpt := range d.Remote {
			n, err := NormalizeAddress(rcpt)
			if err != nil {
				return nil, fmt.Errorf("store: deliver: remote recipient: %w", err)
			}
			if seen[n] {
				continue
			}
			seen[n] = true
			// Keep the local part's case: only the recipient's
			// server may interpret it.
			t := strings.TrimSpace(rcpt)
			at := strings.LastIndexByte(t, '@')
			req.remote = append(req.remote, t[:at+1]+mailaddr.Domain(n))
		}
		req.mailFrom = strings.TrimSpace(d.MailFrom)
	}
	req.partial = d.PartialQuota
	res, err := s.submit(ctx, req)
	if err != nil {
		return nil, err
	}
	return &DeliveryResult{Local: res.local, OutboxID: res.outboxID, OverQuota: res.overQuota}, nil
}

// Append stores a message into one mailbox (IMAP APPEND). Goes through the
// same group commit as Deliver.
func (s *Store) Append(ctx context.Context, mailboxID int64, raw []byte, flags []string, date time.Time) (*AppendResult, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("store: append: empty message: %w", ErrInvalid)
	}
	mask, kws, err := parseFlags(flags)
	if err != nil {
		return nil, fmt.Errorf("store: append: %w", err)
	}
	req := newReq(raw, date)
	req.targets = []target{{mailboxID: mailboxID, mask: mask, keywords: joinKeywords(kws)}}
	res, err := s.submit(ctx, req)
	if err != nil {
		return nil, err
	}
	return &res.local[0], nil
}

func newReq(raw []byte, date time.Time) *deliverReq {
	if date.IsZero() {
		date = vntime.In(time.Now())
	}
	hl := mailhdr.SectionLen(raw)
	return &deliverReq{
		raw:       raw,
		headerLen: hl,
		body:      bodyTextFor(raw),
		envelope:  envelope.FromHeader(raw[:hl]),
		date:      sqldb.Micro(date),
		zone:      zoneOf(date),
	}
}

// submit hands req to the delivery batcher and waits for its result. If
// ctx ends first, the message may still be committed; the caller reports a
// temporary failure and the sender retries (at least once).
func (s *Store) submit(ctx context.Context, req *deliverReq) (deliverRes, error) {
	return s.deliverBatch.Do(ctx, req)
}

// commitDeliveries is the delivery batcher's transaction: requests that
// fail on their own (missing mailbox) get their error and write nothing;
// any other error aborts the whole transaction (the batcher then retries
// each request alone).
func (s *Store) commitDeliveries(ctx context.Context, batch []*deliverReq) ([]deliverRes, []error, error) {
	var ch changes
	t0 := time.Now()
	err := s.db.WriteTxNoSync(ctx, func(tx dbtx) error {
		ch = changes{}
		for _, r := range batch {
			r.err, r.result = nil, deliverRes{}
			for i := range r.targets {
				r.targets[i].overQuota = false
			}
		}
		return s.storeBatch(ctx, tx, batch, ch)
	})
	s.log.Debug("store: group commit", "requests", len(batch), "duration", time.Since(t0), "err", err)
	if err != nil {
		return nil, nil, err
	}
	rs := make([]deliverRes, len(batch))
	errs := make([]error, len(batch))
	for i, r := range batch {
		rs[i], errs[i] = r.result, r.err
		rs[i].ch = ch
	}
	return rs, errs, nil
}

// delivered runs once a batch of deliveries is durable, before its callers
// are answered: it reports the changed mailboxes and the new outbox
// entries.
func (s *Store) delivered(rs []deliverRes, errs []error) {
	if len(rs) > 0 {
		s.publishChanges(rs[0].ch)
	}
	for i, r := range rs {
		if errs[i] == nil && r.outboxID != 0 {
			s.outbox.Added(r.outboxID)
		}
	}
}

// storeBatch writes the requests of a batch in transaction tx and
// collects the changed mailboxes in ch.
func (s *Store) storeBatch(ctx context.Context, tx dbtx, batch []*deliverReq, ch changes) error {

	// 1. Resolve mailboxes.
	type key struct {
		account int64
		name    string
	}
	byName := map[key]int64{}
	accountOf := map[int64]int64{}
	for _, r := range batch {
		for i := range r.targets {
			t := &r.targets[i]
			if t.mailboxID != 0 {
				if _, ok := accountOf[t.mailboxID]; ok {
					continue
				}
				var acc int64
				err := tx.Row(ctx, "SELECT account_id FROM mailboxes WHERE id = ?", t.mailboxID).Scan(&acc)
				if errors.Is(err, sql.ErrNoRows) {
					r.err = fmt.Errorf("store: mailbox %d: %w", t.mailboxID, ErrNotFound)
					break
				} else if err != nil {
					return fmt.Errorf("store: resolve mailbox %d: %w", t.mailboxID, err)
				}
				accountOf[t.mailboxID] = acc
				continue
			}
			k := key{t.accountID, t.name}
			if id, ok := byName[k]; ok {
				t.mailboxID = id
				continue
			}
			id, err := resolveTarget(ctx, tx, t.accountID, t.name)
			if errors.Is(err, sql.ErrNoRows) {
				r.err = fmt.Errorf("store: account %d has no INBOX: %w", t.accountID, ErrNotFound)
				break
			} else if err != nil {
				return fmt.Errorf("store: resolve mailbox %q of account %d: %w", t.name, t.accountID, err)
			}
			byName[k], accountOf[id], t.mailboxID = id, t.accountID, id
		}
	}

	// 1b. Store the bytes of all requests with multi-row INSERTs (few
	// statements per batch: each is a round trip on PostgreSQL), before
	// any mailbox is locked, so that concurrent committers overlap this
	// with each other's commits.
	nowT := time.Now()
	now := sqldb.Micro(nowT)
	var pending []*deliverReq
	for _, r := range batch {
		if r.err == nil {
			pending = append(pending, r)
		}
	}
	pendingBlobs, err := s.insertBlobs(ctx, tx, pending, now)
	if err != nil {
		return err
	}
	var blobIDs []int64

	// 2. Allocate UIDs and modseqs, locking mailboxes in ascending ID order.
	count := map[int64]int64{}
	for _, r := range batch {
		if r.err == nil {
			for _, t := range r.targets {
				count[t.mailboxID]++
			}
		}
	}
	ids := make([]int64, 0, len(count))
	for id := range count {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	type alloc struct {
		uid, modseq, uidvalidity int64
		start, end               int64 // the UIDs allocated: [start, end)
	}
	next := map[int64]*alloc{}
	for _, id := range ids {
		n := count[id]
		var uidnext, modseq, uv int64
		err := tx.Row(ctx, `UPDATE mailboxes SET uidnext = uidnext + ?, highest_modseq = highest_modseq + ?
			WHERE id = ? RETURNING uidnext, highest_modseq, uidvalidity`, n, n, id).Scan(&uidnext, &modseq, &uv)
		if errors.Is(err, sql.ErrNoRows) {
			continue // deleted since step 1: its requests fail below
		} else if err != nil {
			return fmt.Errorf("store: allocate UIDs in mailbox %d: %w", id, err)
		}
		if uidnext-1 > 0xffffffff {
			return fmt.Errorf("store: mailbox %d ran out of UIDs", id)
		}
		next[id] = &alloc{uid: uidnext - n, modseq: modseq - n + 1, uidvalidity: uv, start: uidnext - n, end: uidnext}
		ch.add(accountOf[id], id, modseq)
	}

	// 2b. Charge the bytes to the accounts' quotas (after the mailboxes:
	// the lock order of every writer). The UIDs allocated to a target
	// that does not fit are given back after the inserts.
	if err := s.chargeBatch(ctx, tx, batch, accountOf, func(id int64) bool { return next[id] != nil }); err != nil {
		return err
	}

	// 3. Insert the messages, then outbox entries.
	var ok []*deliverReq
	var orphans []int64
	for i, r := range pending {
		for _, t := range r.targets {
			if next[t.mailboxID] == nil && r.err == nil {
				r.err = fmt.Errorf("store: mailbox %d: %w", t.mailboxID, ErrNotFound)
			}
		}
		if r.err != nil {
			orphans = append(orphans, pendingBlobs[i])
			continue
		}
		ok = append(ok, r)
		blobIDs = append(blobIDs, pendingBlobs[i])
	}
	if err := blob.DeleteUnused(ctx, tx, orphans); err != nil {
		return err
	}
	var msgArgs []any
	msgRows := 0
	flush := func() error {
		if msgRows == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, "INSERT INTO messages (mailbox_id, uid, blob_id, modseq, internal_date, internal_zone, flags, keywords, size) VALUES "+
			valuesList(msgRows, 9), msgArgs...)
		msgArgs, msgRows = msgArgs[:0], 0
		if err != nil {
			return fmt.Errorf("store: insert messages: %w", err)
		}
		return nil
	}
	type mbKeywords struct {
		mailbox  int64
		keywords string
	}
	kwSeen := map[mbKeywords]bool{}
	for i, r := range ok {
		blobID := blobIDs[i]
		local := make([]AppendResult, len(r.targets))
		for j, t := range r.targets {
			if t.overQuota {
				continue
			}
			a := next[t.mailboxID]
			uid, modseq := a.uid, a.modseq
			a.uid++
			a.modseq++
			msgArgs = append(msgArgs, t.mailboxID, uid, blobID, modseq, r.date, r.zone, t.mask, t.keywords, int64(len(r.raw)))
			if msgRows++; msgRows == 200 {
				if err := flush(); err != nil {
					return err
				}
			}
			if t.keywords != "" {
				kwSeen[mbKeywords{t.mailboxID, t.keywords}] = true
			}
			local[j] = AppendResult{MailboxID: t.mailboxID, UIDValidity: uint32(a.uidvalidity), UID: uint32(uid), ModSeq: modseq}
		}
		r.result.local = local
	}
	if err := flush(); err != nil {
		return err
	}
	// Give back the UIDs and modseqs allocated to targets that were not
	// stored (refused for quota, or their request failed): the mailbox's
	// lock is still held, so they are the last ones handed out.
	for id, a := range next {
		k := a.end - a.uid
		if k == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, "UPDATE mailboxes SET uidnext = uidnext - ?, highest_modseq = highest_modseq - ? WHERE id = ?", k, k, id); err != nil {
			return fmt.Errorf("store: give back UIDs in mailbox %d: %w", id, err)
		}
		if a.uid == a.start {
			delete(ch, id) // nothing stored there
		} else {
			ch[id] = change{accountID: accountOf[id], mailboxID: id, modseq: a.modseq - 1}
		}
	}
	for k := range kwSeen {
		if err := addMailboxKeywords(ctx, tx, k.mailbox, k.keywords); err != nil {
			return err
		}
	}
	for i, r := range ok {
		if len(r.remote) == 0 {
			continue
		}
		outboxID, err := s.outbox.AddMessageTx(ctx, tx, blobIDs[i], r.mailFrom, int64(len(r.raw)), r.remote, nowT)
		if err != nil {
			return err
		}
		r.result.outboxID = outboxID
	}
	return nil
}

// resolveTarget finds the mailbox a delivery goes to: the named one, or
// INBOX when it does not exist.
func resolveTarget(ctx context.Context, tx dbtx, accountID int64, name string) (int64, error) {
	var id int64
	err := tx.Row(ctx, `SELECT id FROM mailboxes WHERE account_id = ? AND name IN (?, 'INBOX')
		ORDER BY CASE WHEN name = ? THEN 0 ELSE 1 END LIMIT 1`, accountID, name, name).Scan(&id)
	return id, err
}

// addMailboxKeywords records keywords as used in a mailbox.
func addMailboxKeywords(ctx context.Context, tx dbtx, mailboxID int64, keywords string) error {
	for _, k := range splitKeywords(keywords) {
		if _, err := tx.Exec(ctx, "INSERT INTO mailbox_keywords (mailbox_id, keyword) VALUES (?, ?) ON CONFLICT DO NOTHING", mailboxID, k); err != nil {
			return fmt.Errorf("store: record keyword: %w", err)
		}
	}
	return nil
}

// bodyTextFor is the search text stored with a message (PostgreSQL's
// TEXT cannot hold NUL).
func bodyTextFor(raw []byte) string {
	return strings.ReplaceAll(mailtext.BodyText(raw), "\x00", "")
}

// valuesList returns "(?, ?), (?, ?)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	row := "(" + sqldb.Placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

// scanIDs reads a column of int64 and closes rows.
func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// insertBlobs stores the bytes of reqs and returns their blob IDs in order.
func (s *Store) insertBlobs(ctx context.Context, tx dbtx, reqs []*deliverReq, now int64) ([]int64, error) {
	blobIDs := make([]int64, 0, len(reqs))
	const blobsPer = 64
	for i := 0; i < len(reqs); i += blobsPer {
		part := reqs[i:min(i+blobsPer, len(reqs))]
		args := make([]any, 0, 6*len(part))
		for _, r := range part {
			args = append(args, r.raw, int64(len(r.raw)), r.headerLen, r.body, r.envelope, now)
		}
		rows, err := tx.Query(ctx, "INSERT INTO blobs (raw, size, header_len, body_text, envelope, created_at) VALUES "+
			valuesList(len(part), 6)+" RETURNING id", args...)
		if err != nil {
			return nil, fmt.Errorf("store: insert message bytes: %w", err)
		}
		ids, err := scanIDs(rows)
		if err != nil {
			return nil, fmt.Errorf("store: insert message bytes: %w", err)
		}
		if len(ids) != len(part) {
			return nil, fmt.Errorf("store: insert message bytes: got %d IDs for %d rows", len(ids), len(part))
		}
		// IDs are assigned in row order; RETURNING's order is not
		// promised, so sort.
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		blobIDs = append(blobIDs, ids...)
	}
	return blobIDs, nil
}
