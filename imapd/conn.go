package imapd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"

	"congthu/imapd/wire"
	"congthu/loginlimit"
	"congthu/store"
)

// Connection states (RFC 9051 section 3).
type connState int

const (
	stateNotAuthenticated connState = iota
	stateAuthenticated
	stateSelected
	stateLogout
)

// Bounds of the connection loop.
const (
	// writeTimeout bounds each write to the client.
	writeTimeout = time.Minute
	// maxBadCommands ends a connection after this many commands in a
	// row answered BAD (a client speaking another protocol, or lost).
	maxBadCommands = 10
	// writeBufSize is the output buffer: responses collect in it and go
	// out when it fills and at the end of each command, so a FETCH of
	// many small responses makes few system calls (and TLS records).
	writeBufSize = 64 << 10
)

// session is one IMAP connection. Its command loop runs on one goroutine;
// wmu serialises its writes with those of the timers and the revocation
// that say BYE from goroutines of their own.
type session struct {
	srv     *Server
	nc      net.Conn // the connection; a *tls.Conn after STARTTLS
	isTLS   bool
	br      *bufio.Reader
	bw      *bufio.Writer
	dec     *wire.Decoder
	enc     *wire.Encoder
	wmu     sync.Mutex
	closed  bool // the connection was closed by bye; guarded by wmu
	ip      string
	addr    netip.Addr
	ctx     context.Context
	cancel  context.CancelFunc
	started time.Time
	cmds    atomic.Int64
	authed  atomic.Bool // logged in (see startLoginTimer)
	state   connState
	bad     int // commands in a row answered BAD

	// Enabled with ENABLE (RFC 5161); condstore also by the first
	// command that uses a mod-sequence (RFC 7162 section 3.1).
	rev2, utf8, condstore bool
	// qresync is RFC 7162 QRESYNC, on by ENABLE only: VANISHED instead
	// of EXPUNGE, SELECT (QRESYNC ...), UID FETCH (... VANISHED).
	qresync bool

	acct *store.Account
	sel  *selection
	// unregister leaves Options.Sessions (revoke.go).
	unregister func()
}

// connIO reads and writes the session's current connection, so that the
// buffered reader and writer survive STARTTLS.
type connIO struct{ s *session }

func (c connIO) Read(p []byte) (int, error) { return c.s.nc.Read(p) }

func (c connIO) Write(p []byte) (int, error) {
	c.s.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.s.nc.Write(p)
}

// serveConn runs one connection to its end.
func (s *Server) serveConn(nc net.Conn) {
	addr := loginlimit.AddrOf(nc.RemoteAddr())
	ctx, cancel := context.WithCancel(s.ctx)
	sess := &session{srv: s, nc: nc, ip: addr.String(), addr: addr, ctx: ctx, cancel: cancel, started: time.Now()}
	_, sess.isTLS = nc.(*tls.Conn)
	s.opts.Metrics.sessionStarted(sess.isTLS)
	sess.br = bufio.NewReader(connIO{sess})
	sess.enc = wire.NewEncoder(nil) // given a buffer by lockW
	sess.dec = wire.NewDecoder(sess.br, wire.Limits{MaxAppendLiteral: int64(s.opts.appendLimit())}, func() error {
		sess.lockW()
		defer sess.unlockW()
		return sess.enc.Continue("Ready for literal data").Flush()
	})
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("imapd: panic in session", "ip", sess.ip, "panic", v, "stack", string(debug.Stack()))
		}
		sess.end()
	}()
	sess.startLoginTimer()
	sess.run()
}

// end closes the connection, leaves the selected mailbox and logs one
// line.
func (s *session) end() {
	s.srv.opts.Metrics.sessionEnded()
	s.wmu.Lock()
	s.closed = true
	s.nc.Close()
	s.releaseW()
	s.wmu.Unlock()
	s.cancel()
	if s.unregister != nil {
		s.unregister()
	}
	if s.sel != nil {
		s.unselect()
	}
	user := ""
	if s.acct != nil {
		user = s.acct.Address
	}
	s.srv.log.Info("imap session end", "user", user, "ip", s.ip,
		"duration", time.Since(s.started).Round(time.Millisecond), "commands", s.cmds.Load())
}

// bye says BYE and closes the connection, from any goroutine. It waits
// for the command running, if any, to finish writing.
func (s *session) bye(text string) {
	s.lockW()
	defer s.unlockW()
	if s.closed {
		return
	}
	s.closed = true
	s.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.enc.Status("*", "BYE", "", text).Flush()
	s.nc.Close()
}

func (s *session) count() { s.cmds.Add(1) }

// writers lends sessions their output buffer while they write: a session
// waiting for a command or in IDLE holds none, so a thousand idle clients
// do not hold a thousand 64 KiB buffers.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}

// lockW takes wmu and a buffer for the encoder.
func (s *session) lockW() {
	s.wmu.Lock()
	if s.bw == nil {
		s.bw = writers.Get().(*bufio.Writer)
		s.bw.Reset(connIO{s})
		s.enc.Reset(s.bw)
	}
}

// unlockW flushes what is left, returns the buffer and releases wmu.
func (s *session) unlockW() {
	s.releaseW()
	s.wmu.Unlock()
}

// releaseW returns the buffer; wmu must be held.
func (s *session) releaseW() {
	if s.bw == nil {
		return
	}
	if s.bw.Buffered() > 0 && !s.closed {
		s.bw.Flush()
	}
	s.bw.Reset(nil)
	writers.Put(s.bw)
	s.bw = nil
	s.enc.Reset(nil)
}

// run is the command loop.
func (s *session) run() {
	s.lockW()
	if s.isTLS {
		// Implicit TLS: the handshake, bounded, before the greeting.
		tc := s.nc.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.unlockW()
			return
		}
		tc.SetDeadline(time.Time{})
	}
	err := s.enc.Status("*", "OK", "CAPABILITY "+s.capabilities(), "congthu IMAP ready").Flush()
	s.unlockW()
	if err != nil {
		return
	}
	for {
		s.nc.SetReadDeadline(time.Now().Add(s.srv.opts.idleTimeout()))
		cmd, err := s.dec.Next()
		if err != nil {
			var se *wire.SyntaxError
			if !errors.As(err, &se) {
				if isTimeout(err) {
					s.bye("Autologout: idle for too long")
				}
				return
			}
			if !s.syntaxError(se) {
				return
			}
			continue
		}
		s.count()
		if !s.handle(cmd) {
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// syntaxError answers a command the decoder refused; false ends the
// connection.
func (s *session) syntaxError(se *wire.SyntaxError) bool {
	s.lockW()
	defer s.unlockW()
	tag := se.Tag
	if tag == "" {
		tag = "*"
	}
	kind, counted := "BAD", resultBAD
	switch {
	case se.Code == "TOOBIG" && !se.Fatal:
		kind, counted = "NO", resultNO // a refused literal: the command itself may be fine
	case se.Code == "CANNOT" && (se.Command == "LIST" || se.Command == "LSUB") && s.state != stateNotAuthenticated:
		// A pattern that is not valid modified UTF-7 matches no
		// mailbox: nothing to list, as Dovecot answers.
		s.srv.opts.Metrics.command(se.Command, false, resultOK)
		s.bad = 0
		return s.enc.Status(tag, "OK", "", se.Command+" completed").Flush() == nil
	case se.Code == "CANNOT" && s.state != stateNotAuthenticated:
		// A name that is not valid modified UTF-7 names no mailbox.
		kind, counted = "NO", resultNO
	}
	s.srv.opts.Metrics.command(se.Command, false, counted)
	s.enc.Status(tag, kind, se.Code, se.Msg)
	if se.Fatal {
		s.enc.Status("*", "BYE", "", "Command too long")
		s.enc.Flush()
		return false
	}
	if kind == "BAD" {
		s.bad++
	} else {
		s.bad = 0
	}
	if s.bad >= maxBadCommands {
		s.enc.Status("*", "BYE", "", "Too many invalid commands")
		s.enc.Flush()
		return false
	}
	return s.enc.Flush() == nil
}

// result is how a command ended: nil is OK with the default text.
type result struct {
	code, text string
}

// errBadState answers a command given in a state where it is not valid.
var errBadState = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Command not valid in this state"}

// errLogout ends the connection after the tagged OK of LOGOUT.
var errLogout = errors.New("imapd: logout")

// handle runs one command and writes its responses; false ends the
// connection.
func (s *session) handle(cmd *wire.Command) bool {
	s.lockW()
	defer s.unlockW()
	if s.closed {
		return false
	}
	res, err := s.dispatch(cmd)
	var ierr *imap.Error
	counted := resultOK
	if errors.As(err, &ierr) {
		switch ierr.Type {
		case imap.StatusResponseTypeBad:
			counted = resultBAD
		case imap.StatusResponseTypeNo:
			counted = resultNO
		}
	}
	s.srv.opts.Metrics.command(cmd.Name, cmd.UID, counted)
	switch {
	case errors.Is(err, errAnswered):
	case err == nil || errors.Is(err, errLogout):
		s.bad = 0
		if s.sel != nil && !errors.Is(err, errLogout) {
			if perr := s.poll(allowExpunge(cmd)); perr != nil {
				if !errors.As(perr, &ierr) {
					return false
				}
				if s.closed {
					return false
				}
			}
		}
		text := cmd.Name + " completed"
		if cmd.UID {
			text = "UID " + text
		}
		if res.text != "" {
			text = res.text
		}
		s.enc.Status(cmd.Tag, "OK", res.code, text)
		if errors.Is(err, errLogout) {
			s.enc.Flush()
			return false
		}
	case errors.As(err, &ierr):
		if ierr.Type == imap.StatusResponseTypeBad {
			s.bad++
		} else {
			s.bad = 0
		}
		text := ierr.Text
		if text == "" {
			text = cmd.Name + " failed"
		}
		s.enc.Status(cmd.Tag, string(ierr.Type), string(ierr.Code), text)
		if s.bad >= maxBadCommands {
			s.enc.Status("*", "BYE", "", "Too many invalid commands")
			s.enc.Flush()
			return false
		}
	default:
		if !errors.Is(err, io.EOF) && !isTimeout(err) && !errors.Is(err, net.ErrClosed) {
			s.srv.log.Warn("imapd: connection ends", "ip", s.ip, "cmd", cmd.Name, "err", err)
		}
		return false
	}
	return s.enc.Flush() == nil && !s.closed
}

// allowExpunge says whether untagged EXPUNGE may follow cmd: not after
// FETCH, STORE and SEARCH, which name messages by sequence number (RFC
// 9051 section 7.5.1); their UID forms may.
func allowExpunge(cmd *wire.Command) bool {
	switch cmd.Name {
	case "FETCH", "STORE", "SEARCH", "SORT", "THREAD":
		return cmd.UID
	}
	return true
}

// dispatch runs a command by name in the session's state.
func (s *session) dispatch(cmd *wire.Command) (result, error) {
	if _, ok := cmd.Args.(*wire.Unknown); ok {
		return result{}, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command"}
	}
	// Commands valid in any state.
	switch cmd.Name {
	case "CAPABILITY":
		s.enc.Untagged().Atom("CAPABILITY ").Atom(s.capabilities()).CRLF()
		return result{}, nil
	case "NOOP":
		return result{}, nil
	case "LOGOUT":
		s.state = stateLogout
		s.enc.Status("*", "BYE", "", "Logging out")
		return result{}, errLogout
	case "ID":
		// RFC 2971: the client's fields are not needed.
		s.enc.Untagged().Atom("ID (").String("name").SP().String("congthu").Atom(")").CRLF()
		return result{}, nil
	}
	if s.state == stateNotAuthenticated {
		switch cmd.Name {
		case "STARTTLS":
			return s.startTLS(cmd)
		case "LOGIN":
			a := cmd.Args.(*wire.Login)
			return s.login(a.Username, a.Password)
		case "AUTHENTICATE":
			return s.authenticateSASL(cmd.Args.(*wire.Authenticate))
		}
		return result{}, errBadState
	}
	switch cmd.Name {
	case "ENABLE":
		return s.enable(cmd.Args.(*wire.Enable))
	case "SELECT", "EXAMINE":
		return s.selectCmd(cmd.Args.(*wire.Select))
	case "CREATE":
		a := cmd.Args.(*wire.Create)
		return result{}, s.Create(a.Mailbox, &a.Options)
	case "DELETE":
		return result{}, s.Delete(cmd.Args.(*wire.Mailbox).Mailbox)
	case "RENAME":
		a := cmd.Args.(*wire.Rename)
		return result{}, s.Rename(a.From, a.To)
	case "SUBSCRIBE":
		return result{}, s.Subscribe(cmd.Args.(*wire.Mailbox).Mailbox)
	case "UNSUBSCRIBE":
		return result{}, s.Unsubscribe(cmd.Args.(*wire.Mailbox).Mailbox)
	case "LIST", "LSUB":
		return result{}, s.List(cmd.Args.(*wire.List), cmd.Name == "LSUB")
	case "NAMESPACE":
		s.count()
		s.enc.Untagged().Atom(`NAMESPACE (("" "/")) NIL NIL`).CRLF()
		return result{}, nil
	case "STATUS":
		a := cmd.Args.(*wire.Status)
		return result{}, s.Status(a.Mailbox, &a.Options)
	case "APPEND":
		return s.Append(cmd.Args.(*wire.Append))
	case "GETQUOTAROOT":
		return result{}, s.getQuotaRoot(cmd.Args.(*wire.Mailbox))
	case "GETQUOTA":
		return result{}, s.getQuota(cmd.Args.(*wire.Quota))
	case "SETQUOTA":
		return result{}, s.setQuota(cmd.Args.(*wire.Quota))
	case "IDLE":
		return s.idle(cmd)
	}
	if s.state != stateSelected {
		switch cmd.Name {
		case "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "SORT", "THREAD", "CANCELUPDATE":
			return result{}, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "No mailbox selected"}
		}
		return result{}, s.unsupported(cmd)
	}
	switch cmd.Name {
	case "CHECK":
		return result{}, nil
	case "CLOSE":
		if err := s.Expunge(nil); err != nil {
			return result{}, err
		}
		s.unselect()
		return result{}, nil
	case "UNSELECT":
		s.unselect()
		return result{}, nil
	case "EXPUNGE":
		var uids *imap.UIDSet
		if a, ok := cmd.Args.(*wire.Expunge); ok {
			uids = &a.UIDs
		}
		return result{}, s.Expunge(uids)
	case "SEARCH":
		return result{}, s.Search(cmd)
	case "SORT":
		return result{}, s.Sort(cmd)
	case "THREAD":
		return result{}, s.Thread(cmd)
	case "CANCELUPDATE":
		return result{}, s.cancelUpdate(cmd.Args.(*wire.CancelUpdate))
	case "FETCH":
		return result{}, s.Fetch(cmd.Args.(*wire.Fetch), cmd.UID)
	case "STORE":
		return s.Store(cmd.Args.(*wire.Store), cmd.UID)
	case "COPY":
		a := cmd.Args.(*wire.Copy)
		return s.Copy(a.NumSet, a.Mailbox)
	case "MOVE":
		a := cmd.Args.(*wire.Copy)
		return result{}, s.Move(a.NumSet, a.Mailbox)
	}
	return result{}, s.unsupported(cmd)
}

// unsupported answers commands the decoder knows but the server does not
// offer.
func (s *session) unsupported(cmd *wire.Command) error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Command not supported: " + cmd.Name}
}

// capabilities lists what the session offers in its state (RFC 9051
// section 7.2.2).
func (s *session) capabilities() string {
	var b strings.Builder
	b.WriteString("IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE")
	if s.state == stateNotAuthenticated {
		if s.srv.opts.TLSConfig != nil && !s.isTLS {
			b.WriteString(" STARTTLS")
		}
		if s.isTLS || s.srv.opts.AllowInsecureAuth {
			b.WriteString(" AUTH=PLAIN")
		} else {
			b.WriteString(" LOGINDISABLED")
		}
		return b.String()
	}
	b.WriteString(" IDLE UNSELECT NAMESPACE UIDPLUS ESEARCH SEARCHRES LIST-EXTENDED LIST-STATUS MOVE STATUS=SIZE BINARY CHILDREN SPECIAL-USE CREATE-SPECIAL-USE UTF8=ACCEPT CONDSTORE QRESYNC SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT CONTEXT=SEARCH CONTEXT=SORT MULTIAPPEND QUOTA QUOTA=RES-STORAGE APPENDLIMIT=")
	b.WriteString(strconv.FormatUint(uint64(s.srv.opts.appendLimit()), 10))
	return b.String()
}

// startTLS upgrades the connection (RFC 9051 section 6.2.1).
func (s *session) startTLS(cmd *wire.Command) (result, error) {
	if s.isTLS || s.srv.opts.TLSConfig == nil {
		return result{}, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "STARTTLS not available"}
	}
	if err := s.enc.Status(cmd.Tag, "OK", "", "Begin TLS negotiation now").Flush(); err != nil {
		return result{}, err
	}
	if s.br.Buffered() > 0 {
		// Sent in clear after STARTTLS: it must not pass as sent over TLS.
		return result{}, errors.New("imapd: data after STARTTLS")
	}
	tc := tls.Server(s.nc, s.srv.opts.TLSConfig)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return result{}, fmt.Errorf("imapd: STARTTLS handshake: %w", err)
	}
	tc.SetDeadline(time.Time{})
	s.nc, s.isTLS = tc, true
	return result{}, errAnswered
}

// errAnswered: the command wrote its tagged answer itself.
var errAnswered = errors.New("imapd: answered")

// canLogin says whether credentials may be sent on this connection.
func (s *session) canLogin() error {
	if s.isTLS || s.srv.opts.AllowInsecureAuth {
		return nil
	}
	s.srv.opts.Metrics.login(loginRefused)
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodePrivacyRequired, Text: "TLS is required to log in"}
}

// errAuthFailed answers wrong credentials (RFC 5530 AUTHENTICATIONFAILED).
var errAuthFailed = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Authentication failed"}

func (s *session) login(username, password string) (result, error) {
	if err := s.canLogin(); err != nil {
		return result{}, err
	}
	if err := s.Login(username, password); err != nil {
		return result{}, err
	}
	s.state = stateAuthenticated
	return result{code: "CAPABILITY " + s.capabilities(), text: "Logged in"}, nil
}

// authenticateSASL is AUTHENTICATE PLAIN (RFC 4616) with RFC 4959's
// initial response.
func (s *session) authenticateSASL(a *wire.Authenticate) (result, error) {
	if err := s.canLogin(); err != nil {
		return result{}, err
	}
	if a.Mechanism != "PLAIN" {
		return result{}, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Unsupported authentication mechanism"}
	}
	resp := a.Initial
	if !a.HasInitial {
		if err := s.enc.Continue("").Flush(); err != nil {
			return result{}, err
		}
		var err error
		resp, err = s.dec.ReadSASLResponse()
		var se *wire.SyntaxError
		switch {
		case errors.Is(err, wire.ErrSASLCancelled):
			return result{}, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Authentication cancelled"}
		case errors.As(err, &se):
			return result{}, &imap.Error{Type: imap.StatusResponseTypeBad, Text: se.Msg}
		case err != nil:
			return result{}, err
		}
	}
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || (len(parts[0]) > 0 && !bytes.Equal(parts[0], parts[1])) {
		return result{}, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Malformed PLAIN response"}
	}
	return s.login(string(parts[1]), string(parts[2]))
}

// enable is ENABLE (RFC 5161): IMAP4rev2 and UTF8=ACCEPT (RFC 6855, which
// wants it before SELECT).
func (s *session) enable(a *wire.Enable) (result, error) {
	s.count()
	var on []string
	for _, c := range a.Caps {
		switch strings.ToUpper(string(c)) {
		case "IMAP4REV2":
			// IMAP4rev2 names mailboxes in UTF-8 (RFC 9051 section 5.1).
			if !s.rev2 {
				s.rev2 = true
				s.setUTF8()
				on = append(on, "IMAP4rev2")
			}
		case "QRESYNC":
			if !s.qresync {
				s.qresync, s.condstore = true, true
				on = append(on, "QRESYNC")
			}
		case "CONDSTORE":
			if !s.condstore {
				s.condstore = true
				on = append(on, "CONDSTORE")
			}
		case "UTF8=ACCEPT":
			if !s.utf8 {
				s.setUTF8()
				on = append(on, "UTF8=ACCEPT")
			}
		}
	}
	s.enc.Untagged().Atom("ENABLED")
	for _, c := range on {
		s.enc.SP().Atom(c)
	}
	s.enc.CRLF()
	return result{}, nil
}

// enableCondStore turns CONDSTORE on for a command that uses it; with a
// mailbox selected, the client learns its HIGHESTMODSEQ then (RFC 7162
// section 3.1).
func (s *session) enableCondStore() {
	if s.condstore {
		return
	}
	s.condstore = true
	if s.sel != nil {
		s.sel.mb.mu.Lock()
		ms := s.sel.mb.modseq
		s.sel.mb.mu.Unlock()
		s.enc.Status("*", "OK", "HIGHESTMODSEQ "+strconv.FormatInt(max(ms, 1), 10), "CONDSTORE enabled")
	}
}

func (s *session) setUTF8() {
	s.utf8 = true
	s.dec.SetUTF8Accept(true)
	s.enc.SetUTF8Accept(true)
}

// idle is IDLE (RFC 2177): updates are written as they come until the
// client says DONE; an IDLE longer than Options.IdleTimeout ends with
// BYE. A goroutine waits for DONE while this one writes; wmu is released
// between writes so a BYE from elsewhere can go out.
func (s *session) idle(cmd *wire.Command) (result, error) {
	if err := s.enc.Continue("idling").Flush(); err != nil {
		return result{}, err
	}
	s.nc.SetReadDeadline(time.Now().Add(s.srv.opts.idleTimeout()))
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				s.srv.log.Error("imapd: panic reading DONE", "panic", v)
				done <- fmt.Errorf("imapd: panic reading DONE: %v", v)
			}
		}()
		done <- s.dec.ReadDone()
	}()
	s.unlockW()
	err := s.idleLoop(done)
	s.lockW()
	return result{}, err
}

// idleLoop writes updates until DONE arrives on done; wmu is not held.
func (s *session) idleLoop(done <-chan error) error {
	finish := func(err error) error {
		// The reader must be gone before the decoder is used again.
		s.nc.SetReadDeadline(time.Now())
		<-done
		return err
	}
	var (
		poll = s.srv.opts.idlePoll()
		t    = time.NewTimer(poll)
		ch   <-chan struct{}
	)
	defer t.Stop()
	for {
		if s.sel != nil {
			ch = s.sel.mb.waitChan()
			s.lockW()
			err := s.idlePoll(poll / 2)
			if err == nil {
				err = s.enc.Flush()
			}
			closed := s.closed
			s.unlockW()
			if err != nil || closed {
				return finish(fmt.Errorf("imapd: idle: %w", errOr(err, net.ErrClosed)))
			}
		}
		select {
		case err := <-done:
			var se *wire.SyntaxError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &se):
				return &imap.Error{Type: imap.StatusResponseTypeBad, Text: se.Msg}
			case isTimeout(err):
				s.bye("Autologout: idle for too long")
				return net.ErrClosed
			}
			return err
		case <-s.ctx.Done():
			return finish(net.ErrClosed)
		case <-ch:
		case <-t.C:
			t.Reset(poll)
		}
	}
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
