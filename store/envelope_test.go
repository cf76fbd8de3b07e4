package store

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"congthu/envelope"
	"congthu/mailhdr"
)

// TestEnvelopes: envelopes are stored at delivery and append, read back
// for the UIDs asked (dense and sparse sets, missing UIDs skipped), and
// computed and saved for rows without one (stored before migration 4).
func TestEnvelopes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		acct := setup(t, s, "env")[0]
		mb := inbox(t, s, acct.ID)
		const n = 1200 // more than one chunk
		raws := map[uint32][]byte{}
		for i := range n {
			raw := []byte(fmt.Sprintf("From: =?UTF-8?Q?S=E1=BB=9F?= <so%d@example.gov.vn>\r\nSubject: Hồ sơ %d\r\nDate: Mon, 02 Jan 2006 15:04:05 +0700\r\n\r\nBody %d\r\n", i, i, i))
			var uid uint32
			if i%2 == 0 {
				uid = deliver(t, s, raw, LocalTarget{AccountID: acct.ID}).Local[0].UID
			} else {
				res, err := s.Append(ctx, mb.ID, raw, []string{FlagSeen}, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				uid = res.UID
			}
			raws[uid] = raw
		}
		check := func(t *testing.T, uids []uint32, withEnvelope bool) {
			t.Helper()
			var got []uint32
			for m, err := range s.Envelopes(ctx, mb.ID, uids, withEnvelope) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m.UID)
				if !withEnvelope {
					if m.Envelope != nil {
						t.Fatalf("UID %d: envelope %q not asked for", m.UID, m.Envelope)
					}
					continue
				}
				raw := raws[m.UID]
				if want := envelope.FromHeader(raw[:mailhdr.SectionLen(raw)]); string(m.Envelope) != string(want) {
					t.Fatalf("UID %d: envelope got %q, want %q", m.UID, m.Envelope, want)
				}
				if m.Size != int64(len(raw)) || (m.UID%2 == 0) != slices.Contains(m.Flags, FlagSeen) {
					t.Fatalf("UID %d: size %d flags %v, want %d and \\Seen on even UIDs", m.UID, m.Size, m.Flags, len(raw))
				}
			}
			var want []uint32
			for _, u := range uids {
				if _, ok := raws[u]; ok && !slices.Contains(want, u) {
					want = append(want, u)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("UIDs: got %d of them (%v...), want %d (%v...)", len(got), got[:min(5, len(got))], len(want), want[:min(5, len(want))])
			}
		}
		var all, sparse []uint32
		for u := range raws {
			all = append(all, u)
			if u%97 == 1 {
				sparse = append(sparse, u)
			}
		}
		t.Run("dense", func(t *testing.T) { check(t, all, true) })
		t.Run("sparse", func(t *testing.T) { check(t, append(sparse, 5000, 7, 7), true) })
		t.Run("metadata only", func(t *testing.T) { check(t, all[:300], false) })

		// Rows from before the migration have no envelope; rows of an
		// older encoding one the reader does not take.
		if _, err := s.w().Exec(ctx, "UPDATE blobs SET envelope = NULL WHERE id IN (SELECT blob_id FROM messages WHERE mailbox_id = ? AND uid % 3 = 0)", mb.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w().Exec(ctx, "UPDATE blobs SET envelope = ? WHERE id IN (SELECT blob_id FROM messages WHERE mailbox_id = ? AND uid % 3 = 1)", []byte{0, 1, 2}, mb.ID); err != nil {
			t.Fatal(err)
		}
		// A version 3 envelope (no date text): decodable, but not Current,
		// so computed again.
		v3 := []byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		if _, err := envelope.Decode(v3); err != nil {
			t.Fatalf("version 3 envelope: %v", err)
		}
		if _, err := s.w().Exec(ctx, "UPDATE blobs SET envelope = ? WHERE id IN (SELECT blob_id FROM messages WHERE mailbox_id = ? AND uid % 3 = 2)", v3, mb.ID); err != nil {
			t.Fatal(err)
		}
		t.Run("lazy fill", func(t *testing.T) { check(t, all, true) })
		var stale int
		if err := s.r().Row(ctx, "SELECT COUNT(*) FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE m.mailbox_id = ? AND (b.envelope IS NULL OR length(b.envelope) IN (3, 11))", mb.ID).Scan(&stale); err != nil {
			t.Fatal(err)
		}
		if stale != 0 {
			t.Errorf("after a read, %d envelopes still missing or stale, want 0", stale)
		}

		// An envelope a newer congthu wrote (a node of the next version
		// beside this one): this reader computes its own for the answer
		// but leaves the stored one alone.
		future := []byte{envelope.Version + 1, 9, 9}
		if _, err := s.w().Exec(ctx, "UPDATE blobs SET envelope = ? WHERE id IN (SELECT blob_id FROM messages WHERE mailbox_id = ? AND uid % 5 = 0)", future, mb.ID); err != nil {
			t.Fatal(err)
		}
		t.Run("newer version", func(t *testing.T) { check(t, all, true) })
		var kept int
		if err := s.r().Row(ctx, "SELECT COUNT(*) FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE m.mailbox_id = ? AND b.envelope = ?", mb.ID, future).Scan(&kept); err != nil {
			t.Fatal(err)
		}
		if want := n / 5; kept != want {
			t.Errorf("%d envelopes of the newer version kept, want %d", kept, want)
		}
	})
}
