package loginlimit

import "congthu/internal/metrics"

// Attempts are the counters of password logins of one protocol, in the
// family every protocol shares (congthu_login_attempts_total, labels
// protocol and result), so that one query sees SMTP, IMAP and the
// console: a server gets them once with NewAttempts and counts each login
// in one of them.
type Attempts struct {
	// OK: the password was right.
	OK *metrics.Counter
	// Failed: wrong password, unknown or disabled account, or an
	// identity the protocol does not support (what Fail is told).
	Failed *metrics.Counter
	// Locked: refused unverified, the address or account being locked
	// out (Check said locked).
	Locked *metrics.Counter
	// Error: the store could not verify it (a temporary failure).
	Error *metrics.Counter
	// Refused: refused before any password was read (no TLS).
	Refused *metrics.Counter
}

// NewAttempts registers (or finds) the shared family in reg and returns
// the counters of protocol ("smtp", "imap", "admin").
func NewAttempts(reg *metrics.Registry, protocol string) *Attempts {
	v := reg.CounterVec("congthu_login_attempts_total",
		"Password logins by protocol and result: ok, failed (wrong password, unknown or disabled account), locked (refused unverified during a lockout), error (the store could not verify), refused (no TLS).",
		"protocol", "result")
	return &Attempts{
		OK:      v.With(protocol, "ok"),
		Failed:  v.With(protocol, "failed"),
		Locked:  v.With(protocol, "locked"),
		Error:   v.With(protocol, "error"),
		Refused: v.With(protocol, "refused"),
	}
}

// lockoutCounters count lockouts as they begin, by what is locked.
type lockoutCounters struct {
	account, address *metrics.Counter
}

func newLockoutCounters(reg *metrics.Registry) lockoutCounters {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	v := reg.CounterVec("congthu_login_lockouts_total",
		"Lockouts begun by this process's failed logins, by scope: account (auth.max_failures_per_account failures of one account) or address (auth.max_failures_per_ip from one client address or IPv6 /64).",
		"scope")
	return lockoutCounters{account: v.With("account"), address: v.With("address")}
}

// locked counts the lockout of key (an "ip:" or "acct:" key).
func (c lockoutCounters) locked(key string) {
	if len(key) > 3 && key[:3] == "ip:" {
		c.address.Inc()
		return
	}
	c.account.Inc()
}
