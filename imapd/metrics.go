package imapd

import (
	"context"
	"sync/atomic"
)

// Metrics counts IMAP sessions, logins and commands for Prometheus. Give
// one to Options.Metrics; counting is an atomic add on a counter chosen
// by array index, with no lock, map write or allocation per command.
//
// imapd does not import a metrics registry: the figures are read at
// scrape time through the Collect methods, whose signature is the
// registry's collector (internal/metrics' CollectFunc), so the serve
// command registers them as
//
//	reg.Collect("congthu_imap_commands_total", help, metrics.KindCounter,
//		[]string{"command", "result"}, m.CollectCommands)
//
// and likewise for the families Families lists.
type Metrics struct {
	sessions [2]atomic.Uint64 // by listener: imap, imaps
	open     atomic.Int64
	logins   [numLoginResults]atomic.Uint64
	commands [len(commandNames) + 1][numResults]atomic.Uint64 // the last row: unknown
}

// The results of a command: its tagged answer.
const (
	resultOK = iota
	resultNO
	resultBAD
	numResults
)

var resultNames = [numResults]string{"ok", "no", "bad"}

// The results of a login (LOGIN or AUTHENTICATE).
const (
	loginOK = iota
	loginFailed
	loginLocked
	numLoginResults
)

var loginResultNames = [numLoginResults]string{"ok", "failed", "locked"}

// commandNames are the commands counted by name; others count as
// "unknown" (the label takes a small, fixed set of values).
var commandNames = [...]string{
	"APPEND", "AUTHENTICATE", "CAPABILITY", "CHECK", "CLOSE", "COPY", "CREATE", "DELETE",
	"ENABLE", "EXAMINE", "EXPUNGE", "FETCH", "ID", "IDLE", "LIST", "LOGIN", "LOGOUT", "LSUB",
	"MOVE", "NAMESPACE", "NOOP", "RENAME", "SEARCH", "SELECT", "STARTTLS", "STATUS", "STORE",
	"SUBSCRIBE", "UNSELECT", "UNSUBSCRIBE",
	"UID COPY", "UID EXPUNGE", "UID FETCH", "UID MOVE", "UID SEARCH", "UID STORE",
}

var commandIndex = func() map[string]int {
	m := make(map[string]int, len(commandNames))
	for i, n := range commandNames {
		m[n] = i
	}
	return m
}()

// NewMetrics returns zeroed metrics.
func NewMetrics() *Metrics { return &Metrics{} }

// Family describes one metric family the Collect methods report.
type Family struct {
	Name, Help, Kind string
	Labels           []string
	Collect          func(ctx context.Context, add func(value float64, labelValues ...string)) error
}

// Families lists the families, for registration and documentation.
func (m *Metrics) Families() []Family {
	return []Family{
		{"congthu_imap_sessions_total", "IMAP connections served, by listener (imap: plain with STARTTLS, imaps: implicit TLS).", "counter", []string{"listener"}, m.CollectSessions},
		{"congthu_imap_sessions_open", "IMAP connections open now.", "gauge", nil, m.CollectOpen},
		{"congthu_imap_logins_total", "IMAP logins (LOGIN and AUTHENTICATE) by result: ok, failed (wrong credentials or disabled account), locked (the login limiter refused).", "counter", []string{"result"}, m.CollectLogins},
		{"congthu_imap_commands_total", "IMAP commands by name (UID forms apart; unknown for any other) and result, the tagged answer: ok, no, bad.", "counter", []string{"command", "result"}, m.CollectCommands},
	}
}

// CollectSessions reports congthu_imap_sessions_total.
func (m *Metrics) CollectSessions(_ context.Context, add func(float64, ...string)) error {
	add(float64(m.sessions[0].Load()), "imap")
	add(float64(m.sessions[1].Load()), "imaps")
	return nil
}

// CollectOpen reports congthu_imap_sessions_open.
func (m *Metrics) CollectOpen(_ context.Context, add func(float64, ...string)) error {
	add(float64(m.open.Load()))
	return nil
}

// CollectLogins reports congthu_imap_logins_total.
func (m *Metrics) CollectLogins(_ context.Context, add func(float64, ...string)) error {
	for i := range m.logins {
		add(float64(m.logins[i].Load()), loginResultNames[i])
	}
	return nil
}

// CollectCommands reports congthu_imap_commands_total: every command
// with a non-zero count, and LOGIN's and SELECT's ok series always.
func (m *Metrics) CollectCommands(_ context.Context, add func(float64, ...string)) error {
	for i := range m.commands {
		name := "unknown"
		if i < len(commandNames) {
			name = commandNames[i]
		}
		for r := range m.commands[i] {
			v := m.commands[i][r].Load()
			if v == 0 && !(r == resultOK && (name == "LOGIN" || name == "SELECT")) {
				continue
			}
			add(float64(v), name, resultNames[r])
		}
	}
	return nil
}

// sessionStarted counts a connection; tls says implicit TLS.
func (m *Metrics) sessionStarted(tls bool) {
	if m == nil {
		return
	}
	i := 0
	if tls {
		i = 1
	}
	m.sessions[i].Add(1)
	m.open.Add(1)
}

func (m *Metrics) sessionEnded() {
	if m != nil {
		m.open.Add(-1)
	}
}

func (m *Metrics) login(result int) {
	if m != nil {
		m.logins[result].Add(1)
	}
}

// command counts a command by name ("FETCH", uid for UID FETCH) and
// result.
func (m *Metrics) command(name string, uid bool, result int) {
	if m == nil {
		return
	}
	i, ok := len(commandNames), false
	if uid {
		switch name {
		case "COPY":
			i, ok = commandIndex["UID COPY"]
		case "EXPUNGE":
			i, ok = commandIndex["UID EXPUNGE"]
		case "FETCH":
			i, ok = commandIndex["UID FETCH"]
		case "MOVE":
			i, ok = commandIndex["UID MOVE"]
		case "SEARCH":
			i, ok = commandIndex["UID SEARCH"]
		case "STORE":
			i, ok = commandIndex["UID STORE"]
		}
	} else {
		i, ok = commandIndex[name]
	}
	if !ok {
		i = len(commandNames)
	}
	m.commands[i][result].Add(1)
}
