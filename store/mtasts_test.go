package store

import (
	"testing"
	"time"
)

// A kept MTA-STS policy survives closing the store and is replaced by a
// newer one.
func TestMTASTSPolicyKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, _, _, ok, err := s.MTASTSPolicy(ctx, "bocongan.gov.vn"); ok || err != nil {
			t.Fatalf("before any: ok %v, %v", ok, err)
		}
		at := time.Now().Truncate(time.Microsecond)
		if err := s.SaveMTASTSPolicy(ctx, "bocongan.gov.vn", "1", "version: STSv1\r\nmode: testing\r\n", at); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveMTASTSPolicy(ctx, "bocongan.gov.vn", "2", "version: STSv1\r\nmode: enforce\r\n", at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s2 := b.open(t)
		id, body, fetched, ok, err := s2.MTASTSPolicy(ctx, "bocongan.gov.vn")
		if err != nil || !ok || id != "2" || body != "version: STSv1\r\nmode: enforce\r\n" || !fetched.Equal(at.Add(time.Hour)) {
			t.Fatalf("after reopening: %q %q %v %v %v", id, body, fetched, ok, err)
		}
	})
}
