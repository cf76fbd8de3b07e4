package imapd

import (
	"context"
	"errors"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestOverQuota: APPEND and COPY past the account's storage quota answer
// NO [OVERQUOTA] (RFC 9208 section 4.3), MOVE still works (it adds
// nothing), EXPUNGE makes room; QUOTA itself is not advertised.
func TestOverQuota(t *testing.T) {
	backends(t, func(t *testing.T, eo envOptions) {
		e := newEnv(t, eo)
		c := e.client(nil)
		raw := message("hồ sơ", "motcua@hanoi.gov.vn", "Nội dung")
		n := int64(len(raw))
		if err := e.st.SetQuota(context.Background(), testUser, 2*n); err != nil {
			t.Fatal(err)
		}
		appendMsg := func() error {
			cmd := c.Append("INBOX", n, nil)
			cmd.Write([]byte(raw))
			cmd.Close()
			_, err := cmd.Wait()
			return err
		}
		overQuota := func(what string, err error) {
			t.Helper()
			var ie *imap.Error
			if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != imap.ResponseCodeOverQuota {
				t.Errorf("%s: got %v, want NO [OVERQUOTA]", what, err)
			}
		}
		for i := range 2 {
			if err := appendMsg(); err != nil {
				t.Fatalf("APPEND %d within the quota: %v", i+1, err)
			}
		}
		overQuota("APPEND over the quota", appendMsg())

		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		_, err := c.Copy(imap.SeqSetNum(1), "Archive").Wait()
		overQuota("COPY over the quota", err)
		if _, err := c.Move(imap.SeqSetNum(1), "Archive").Wait(); err != nil {
			t.Errorf("MOVE over the quota: %v, want OK (it adds no bytes)", err)
		}
		if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Expunge().Close(); err != nil {
			t.Fatal(err)
		}
		if err := appendMsg(); err != nil {
			t.Errorf("APPEND after EXPUNGE made room: %v", err)
		}

	})
}
