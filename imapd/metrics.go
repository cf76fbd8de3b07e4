package imapd

import (
	"congthu/internal/metrics"
	"congthu/loginlimit"
)

// Metrics are the IMAP server's counters in the process's registry:
// connections by listener, the open ones, commands by name and result,
// and logins in the shared congthu_login_attempts_total (protocol imap).
// Build them once with NewMetrics and give them to Options.Metrics.
// Every series is resolved when they are built, so counting a command is
// an array index and an atomic add: no lock, no map write, no allocation.
type Metrics struct {
	conns    [2]*metrics.Counter // by listener: imap, imaps
	open     *metrics.Gauge
	logins   *loginlimit.Attempts
	commands [len(commandNames) + 1][numResults]*metrics.Counter // the last row: unknown
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
	loginError
	loginRefused
)

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

// NewMetrics registers the IMAP families in reg.
func NewMetrics(reg *metrics.Registry) *Metrics {
	conns := reg.CounterVec("congthu_imap_connections_total",
		"IMAP connections served, by listener (imap: plain with STARTTLS, port 143; imaps: implicit TLS, port 993).", "listener")
	cmds := reg.CounterVec("congthu_imap_commands_total",
		"IMAP commands by name (the UID forms apart, unknown for any other) and result, the tagged answer: ok, no, bad (a syntax error counts under its command's name).",
		"command", "result")
	m := &Metrics{
		conns:  [2]*metrics.Counter{conns.With("imap"), conns.With("imaps")},
		open:   reg.GaugeVec("congthu_imap_connections_open", "IMAP connections open now.").With(),
		logins: loginlimit.NewAttempts(reg, "imap"),
	}
	for i := range m.commands {
		name := "unknown"
		if i < len(commandNames) {
			name = commandNames[i]
		}
		for r := range m.commands[i] {
			m.commands[i][r] = cmds.With(name, resultNames[r])
		}
	}
	return m
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
	m.conns[i].Inc()
	m.open.Inc()
}

func (m *Metrics) sessionEnded() {
	if m != nil {
		m.open.Dec()
	}
}

func (m *Metrics) login(result int) {
	if m == nil {
		return
	}
	switch result {
	case loginOK:
		m.logins.OK.Inc()
	case loginFailed:
		m.logins.Failed.Inc()
	case loginLocked:
		m.logins.Locked.Inc()
	case loginError:
		m.logins.Error.Inc()
	case loginRefused:
		m.logins.Refused.Inc()
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
	m.commands[i][result].Inc()
}
