package loginlimit

import (
	"context"
	"strings"
	"testing"

	"congthu/internal/metrics"
	"congthu/internal/testenv"
)

// A lockout is counted once, when it begins, by its scope: in memory and
// in Redis (where the script says it began).
func TestLockoutsCounted(t *testing.T) {
	rdb := testenv.RedisClient(t, testenv.Redis(t))
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"memory", Options{}},
		{"redis", Options{Redis: rdb}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := metrics.NewRegistry()
			o := tc.opts
			o.AccountFailures, o.IPFailures, o.DelayAfter, o.Metrics = 2, 3, -1, reg
			l := New(o)
			acct := "nva." + tc.name + "@hanoi.gov.vn"
			l.Fail(ip1, acct)
			l.Fail(ip1, acct) // the account's second failure: it is locked
			l.Fail(ip1, acct) // the address's third: it is locked; the account's is not counted
			l.Fail(ip1, acct) // both locked: nothing begins
			var b strings.Builder
			if err := reg.WriteText(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			got, err := metrics.ParseText(strings.NewReader(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			for scope, want := range map[string]float64{"account": 1, "address": 1} {
				if v := got[`congthu_login_lockouts_total{scope="`+scope+`"}`]; v != want {
					t.Errorf("%s lockouts: got %v, want %v", scope, v, want)
				}
			}
		})
	}
}
