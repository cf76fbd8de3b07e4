package notifydb

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"congthu/internal/sqldb"
	_ "congthu/mtasts/stsdb" // registers migration 7, as the program does
)

// The migrations that databases record: each by number, with the name and
// text it had when the mail store owned all but 7 (3 is now the outbox's). A database created
// before the notification store had its own migrations records exactly
// these, so the program must register exactly these: none re-run, none
// skipped.
var recorded = []struct {
	version      int
	name, sha256 string
}{
	{1, "0001_init.sql", "b7a58c614edeb662635470543d90fb3f48530bad62c1ae184c730a2cf7829d8c"},
	{2, "0002_notifications.sql", "2d07e3dcc99128403671bf44eced7aaa4d00abca130d9b556a9a63306be30002"},
	{3, "0003_outbound.sql", "187cd42217b3ca238c6ba8c2bf47a14e4e82d4a01e923c508ac4ca8647b681d7"},
	{4, "0004_envelope.sql", "d74dbeb7a9f7c2bcc739d9ebd7a5ba09e8bb666446e93b81014b9ad6f7f94a3f"},
	{5, "0005_sms.sql", "c3000a5238bd14c1c1e9b7416265f8ef8c116faf135fdaa25d03fce1f54e8bb3"},
	{6, "0006_idempotency_purge.sql", "7c930b406525c12182e28b09ed4e888f73ec504237e1b653c7e9ed13eed886d1"},
	{7, "0007_mta_sts.sql", "251077eb9620140d48131c3419b9c027906257fe125f092dde0aad8c109708a1"},
	{8, "0008_deferred_compose.sql", "36f1e63eba8069779ba6e823a6e431f2caa8fb2c6521436f4b80352c223e94a9"},
	{9, "0009_domain_postmaster.sql", "8495ba19e041668288706e2fffa447f34fb2c5b1bf64d0f28b0048422103c093"},
	{10, "0010_idempotency_scopes.sql", "871dc399841962f7a4e10c56154d1a08a4aa2d8bc192cd9f85f706f150b05a12"},
	{11, "0011_quota.sql", "46b45ae89bb5d69ff465315bc12a6407f4147010d058d56517ec86197cf18111"},
	{12, "0012_zns_tokens.sql", "84c4bb6aceb07cec9ac2ab968c6fb39b9803a3ec20df3e745611a184877e7e3a"},
	{13, "0013_zalo_channel.sql", "c50cbbb4528311fdf3bfe512c075605d3cfc87302d3b2e3ef7b4d3f74648b6f8"},
	{14, "0014_admin_keys.sql", "1bf60daaf7d3fb7b431f62dc6830c5b86f863cec8200918d162395f6d74ef156"},
	{15, "0015_console.sql", "8b38537c6f1296cd487534737bb06d8d6cac4721171214d87b9244ae49788720"},
	{16, "0016_console_lookup.sql", "3b1ae9a63965738c38c4fc96aa7be6c083be7d54a60d802889cb698b8bcd6653"},
	{17, "0017_internal_date_zone.sql", "1dfeb231bd10f44d1b417a4cc2687bc195aa577d99170aefb8a52cc75287d5f9"},
	{18, "0018_usage_cover.sql", "f99d8e7799f2bf9590f2ed51c1c779648800205d385c5ceaca0e286831c961fa"},
	{19, "0019_callback_failures.sql", "a9aee085d2421dcf17eedb76c3394a6b8d579c3585d23b9f48a96a28018abb58"},
}

// TestMigrationsKept: the mail store, the outbox, the notification store
// and the MTA-STS cache together register the recorded migrations, unchanged.
func TestMigrationsKept(t *testing.T) {
	ms := sqldb.Migrations()
	if len(ms) < len(recorded) {
		t.Fatalf("%d migrations registered, want at least %d", len(ms), len(recorded))
	}
	for i, want := range recorded {
		m := ms[i]
		sum := sha256.Sum256([]byte(m.SQL))
		if m.Version != want.version || m.Name != want.name || hex.EncodeToString(sum[:]) != want.sha256 {
			t.Errorf("migration %d: got %d %s (%s, sha256 %x), want %d %s (sha256 %s)", i, m.Version, m.Name, m.Owner, sum[:8], want.version, want.name, want.sha256[:16])
		}
	}
	owners := map[int]string{}
	for _, m := range ms {
		owners[m.Version] = m.Owner
	}
	for _, v := range []int{2, 5, 6, 8, 10, 12, 13, 14, 16} {
		if owners[v] != "notify/notifydb" {
			t.Errorf("migration %d is %q's, want notify/notifydb's", v, owners[v])
		}
	}
	if owners[3] != "outbox" {
		t.Errorf("migration 3 is %q's, want outbox's", owners[3])
	}
}

// TestReopenRunsNothing: a database that records the migrations opens
// with none run again, on both backends.
func TestReopenRunsNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		before := appliedMigrations(t, s)
		if len(before) != len(recorded) {
			t.Fatalf("a new database records %d migrations, want %d", len(before), len(recorded))
		}
		for _, m := range recorded {
			if before[m.version] == "" {
				t.Errorf("migration %d not recorded", m.version)
			}
		}
		again := b.open(t)
		after := appliedMigrations(t, again)
		for v, at := range before {
			if after[v] != at {
				t.Errorf("migration %d: recorded %s, after reopening %s", v, at, after[v])
			}
		}
		if len(after) != len(before) {
			t.Errorf("after reopening %d migrations recorded, want %d", len(after), len(before))
		}
	})
}

// appliedMigrations returns version → "name@applied_at" of the migrations
// the database records.
func appliedMigrations(t *testing.T, s *Store) map[int]string {
	t.Helper()
	rows, err := s.r().Query(ctx, "SELECT version, name, applied_at FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v int
		var name string
		var at int64
		if err := rows.Scan(&v, &name, &at); err != nil {
			t.Fatal(err)
		}
		out[v] = name + "@" + sqldb.FromMicro(at).String()
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
