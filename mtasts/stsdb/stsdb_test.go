package stsdb_test

import (
	"context"
	"testing"
	"time"

	"congthu/internal/testenv"
	"congthu/mtasts"
	"congthu/mtasts/stsdb"
	"congthu/store"
)

// A kept policy survives closing the store and is replaced by a newer one,
// on the mail store's database (which migrates this package's table too).
func TestPolicyKept(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			opts := store.Options{DataDir: t.TempDir()}
			if name == "postgres" {
				opts = store.Options{URL: testenv.Postgres(t)}
			}
			st, err := store.Open(ctx, opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := stsdb.New(st.Conn())
			if _, ok, err := c.LoadPolicy(ctx, "bocongan.gov.vn"); ok || err != nil {
				t.Fatalf("before any: ok %v, %v", ok, err)
			}
			at := time.Now().Truncate(time.Microsecond)
			if err := c.SavePolicy(ctx, "bocongan.gov.vn", mtasts.Cached{ID: "1", Body: "version: STSv1\r\nmode: testing\r\n", FetchedAt: at}); err != nil {
				t.Fatal(err)
			}
			want := mtasts.Cached{ID: "2", Body: "version: STSv1\r\nmode: enforce\r\n", FetchedAt: at.Add(time.Hour)}
			if err := c.SavePolicy(ctx, "bocongan.gov.vn", want); err != nil {
				t.Fatal(err)
			}
			st.Close()
			st, err = store.Open(ctx, opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			got, ok, err := stsdb.New(st.Conn()).LoadPolicy(ctx, "bocongan.gov.vn")
			if err != nil || !ok || got.ID != want.ID || got.Body != want.Body || !got.FetchedAt.Equal(want.FetchedAt) {
				t.Fatalf("after reopening: %+v %v %v", got, ok, err)
			}
		})
	}
}
