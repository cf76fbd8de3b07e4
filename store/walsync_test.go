package store

import (
	"errors"
	"sync/atomic"
	"testing"
)

// Deliver returns only after a WAL sync that began after its commit (the
// SQL layer's own write paths are tested in internal/sqldb).
func TestDeliverSyncsWAL(t *testing.T) {
	s := newBackend(t, "sqlite").open(t)
	var syncs atomic.Int64
	s.db.WrapWALSync(func(real func() error) func() error {
		return func() error { syncs.Add(1); return real() }
	})
	acc := setup(t, s, "a")[0]
	before := syncs.Load()
	if _, err := s.Deliver(ctx, &Delivery{Raw: []byte("Subject: x\r\n\r\nbody\r\n"), Local: []LocalTarget{{AccountID: acc.ID}}}); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == before {
		t.Fatal("Deliver returned without a WAL sync")
	}
}

// Options the SQL layer cannot use are ErrInvalid, as any other invalid
// argument of the store.
func TestOpenInvalid(t *testing.T) {
	for _, o := range []Options{{URL: "mysql://db/congthu"}, {}, {URL: "sqlite:/tmp/a?b"}} {
		if s, err := Open(ctx, o, nil); !errors.Is(err, ErrInvalid) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open(%+v): %v, want ErrInvalid", o, err)
		}
	}
}
