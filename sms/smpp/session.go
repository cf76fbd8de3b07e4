package smpp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// errNotSent: the request never reached the wire; it is safe to send again.
var errNotSent = errors.New("smpp: not sent")

// result is what a waiting request gets: a response or a decode error.
type result struct {
	p   *PDU
	err error
}

// session is one bound TCP connection.
type session struct {
	c    *Client
	cmd  CommandID
	conn net.Conn
	log  *slog.Logger

	wmu sync.Mutex // serialises writes
	seq atomic.Uint32

	mu       sync.Mutex
	pending  map[uint32]chan result
	inflight sync.WaitGroup // requests holding a window slot

	window    chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	err       error
	unbinding atomic.Bool
	handlers  sync.WaitGroup // deliver_sm handlers, reader, enquirer
}

// bind dials the SMSC and binds (§4.1); on success the session's reader
// and enquire_link loops are running.
func (l *link) bind(ctx context.Context) (*session, error) {
	o := &l.c.opts
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("smpp: dial %s: %w", o.Addr, err)
	}
	s := &session{
		c: l.c, cmd: l.cmd, conn: conn,
		log:     l.c.log.With("bind", l.cmd.String(), "smsc", o.Addr),
		pending: map[uint32]chan result{},
		window:  make(chan struct{}, o.Window),
		done:    make(chan struct{}),
	}
	br := bufio.NewReader(conn)
	p := &PDU{ID: l.cmd, Seq: s.nextSeq(), Body: &Bind{
		SystemID: o.SystemID, Password: o.Password, SystemType: o.SystemType, InterfaceVersion: 0x34,
	}}
	b, err := p.Marshal()
	if err != nil {
		conn.Close()
		return nil, err
	}
	deadline := time.Now().Add(o.ResponseTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	if _, err := conn.Write(b); err != nil {
		conn.Close()
		return nil, fmt.Errorf("smpp: %v: %w", l.cmd, err)
	}
	for {
		f, err := ReadFrame(br)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("smpp: %v: waiting for response: %w", l.cmd, err)
		}
		r, err := Decode(f)
		if err != nil || r.Seq != p.Seq || (r.ID != l.cmd|0x80000000 && r.ID != GenericNack) {
			continue // nothing else is expected before the bind response
		}
		if r.Status != StatusOK {
			conn.Close()
			return nil, fmt.Errorf("smpp: %v refused: %w", l.cmd, &StatusError{Command: r.ID, Status: r.Status})
		}
		break
	}
	conn.SetDeadline(time.Time{})
	s.log.Info("smpp bound")
	s.handlers.Add(2)
	go s.readLoop(br)
	go s.enquireLoop()
	return s, nil
}

func (s *session) nextSeq() uint32 {
	// sequence_number runs 1..0x7FFFFFFF (§5.1.4).
	for {
		n := s.seq.Add(1) & 0x7FFFFFFF
		if n != 0 {
			return n
		}
	}
}

func (s *session) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return s.unbinding.Load()
	}
}

func (s *session) cause() error {
	<-s.done
	return s.err
}

// close ends the session once, giving err as the reason.
func (s *session) close(err error) {
	s.closeOnce.Do(func() {
		s.err = err
		close(s.done)
		s.conn.Close()
	})
}

// write sends one PDU.
func (s *session) write(p *PDU) error {
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(s.c.opts.ResponseTimeout))
	_, err = s.conn.Write(b)
	return err
}

// respond answers a request from the SMSC.
func (s *session) respond(id CommandID, st Status, seq uint32, body Body) {
	if err := s.write(&PDU{ID: id, Status: st, Seq: seq, Body: body}); err != nil {
		s.close(fmt.Errorf("smpp: write %v: %w", id, err))
	}
}

// request sends p and waits for its response. windowed requests
// (submit_sm) hold one of Options.Window slots while outstanding. An error
// wrapping errNotSent means p never reached the wire; ErrUnknownOutcome
// means it may have.
func (s *session) request(ctx context.Context, p *PDU, windowed bool) (*PDU, error) {
	if windowed {
		select {
		case s.window <- struct{}{}:
		case <-s.done:
			return nil, errNotSent
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-s.window }()
	}
	ch := make(chan result, 1)
	s.mu.Lock()
	if s.isDone() {
		s.mu.Unlock()
		return nil, errNotSent
	}
	p.Seq = s.nextSeq()
	s.pending[p.Seq] = ch
	s.inflight.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, p.Seq)
		s.mu.Unlock()
		s.inflight.Done()
	}()
	if err := s.write(p); err != nil {
		s.close(fmt.Errorf("smpp: write %v: %w", p.ID, err))
		return nil, fmt.Errorf("%w: write %v: %v", ErrUnknownOutcome, p.ID, err)
	}
	t := time.NewTimer(s.c.opts.ResponseTimeout)
	defer t.Stop()
	var r result
	select {
	case r = <-ch:
	case <-s.done:
		// The reader hands over every response it read before it closed
		// the session, so look once more.
		select {
		case r = <-ch:
		default:
			return nil, fmt.Errorf("%w: connection lost before %v response: %v", ErrUnknownOutcome, p.ID, s.err)
		}
	case <-t.C:
		return nil, fmt.Errorf("%w: no %v response within %v", ErrUnknownOutcome, p.ID, s.c.opts.ResponseTimeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrUnknownOutcome, ctx.Err())
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownOutcome, r.err)
	}
	return r.p, nil
}

// readLoop reads PDUs until the connection ends, answering the SMSC's
// requests and handing responses to their waiters.
func (s *session) readLoop(br *bufio.Reader) {
	defer s.handlers.Done()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("smpp reader panic", "panic", v)
			s.close(fmt.Errorf("smpp: reader panic: %v", v))
		}
	}()
	for {
		f, err := ReadFrame(br)
		if err != nil {
			if errors.Is(err, ErrBadLength) && len(f) == HeaderLen {
				// Cannot find the next PDU: nack and drop (§2.8, §4.3).
				if p, _ := Decode(f); p != nil {
					s.write(&PDU{ID: GenericNack, Status: StatusInvCmdLen, Seq: p.Seq})
				}
			}
			s.close(fmt.Errorf("smpp: read: %w", err))
			return
		}
		p, err := Decode(f)
		if err != nil {
			s.log.Warn("smpp undecodable PDU", "err", err)
			if p.ID.IsResponse() {
				s.deliver(p.Seq, result{err: err})
				continue
			}
			st := StatusInvCmdLen
			if errors.Is(err, ErrUnknownCommand) {
				st = StatusInvCmdID
			}
			s.respond(GenericNack, st, p.Seq, nil)
			continue
		}
		s.dispatch(p)
	}
}

func (s *session) deliver(seq uint32, r result) {
	s.mu.Lock()
	ch, ok := s.pending[seq]
	delete(s.pending, seq)
	s.mu.Unlock()
	if ok {
		ch <- r
		return
	}
	if r.p != nil && r.p.ID == GenericNack {
		s.log.Warn("smpp generic_nack", "status", r.p.Status, "seq", seq)
		return
	}
	s.log.Warn("smpp response to no request", "seq", seq)
}

func (s *session) dispatch(p *PDU) {
	switch {
	case p.ID.IsResponse():
		s.deliver(p.Seq, result{p: p})
	case p.ID == EnquireLink:
		s.respond(EnquireLinkResp, StatusOK, p.Seq, nil)
	case p.ID == Unbind:
		s.respond(UnbindResp, StatusOK, p.Seq, nil)
		s.close(errors.New("smpp: SMSC unbound"))
	case p.ID == DeliverSM:
		s.handlers.Add(1)
		go s.handleDeliver(p)
	default:
		// A request an ESME does not take (bind, submit_sm...).
		s.respond(GenericNack, StatusInvCmdID, p.Seq, nil)
	}
}

// handleDeliver answers a deliver_sm (§4.6) after handing a receipt to
// Options.OnReceipt.
func (s *session) handleDeliver(p *PDU) {
	defer s.handlers.Done()
	st := StatusOK
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("smpp OnReceipt panic", "panic", v)
			st = StatusXTAppn
		}
		s.respond(DeliverSMResp, st, p.Seq, &SMResp{})
	}()
	sm := p.Body.(*ShortMessage)
	r, err := ParseReceipt(sm, s.c.opts.Location)
	if err != nil {
		// A mobile-originated message, or a receipt without id: the
		// gateway takes no MO traffic; acknowledge so it is not resent.
		s.log.Info("smpp deliver_sm ignored", "esm_class", sm.ESMClass, "err", err)
		return
	}
	if s.c.opts.OnReceipt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.c.opts.ResponseTimeout)
	defer cancel()
	if err := s.c.opts.OnReceipt(ctx, r); err != nil {
		s.log.Warn("smpp receipt not taken, SMSC will resend", "id", r.MessageID, "err", err)
		st = StatusXTAppn
	}
}

// enquireLoop sends enquire_link every EnquireLinkInterval (§4.11) and
// drops the session when one goes unanswered.
func (s *session) enquireLoop() {
	defer s.handlers.Done()
	t := time.NewTicker(s.c.opts.EnquireLinkInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if s.unbinding.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.c.opts.ResponseTimeout)
		_, err := s.request(ctx, &PDU{ID: EnquireLink}, false)
		cancel()
		if err != nil && !errors.Is(err, errNotSent) {
			s.log.Warn("smpp enquire_link unanswered, dropping bind", "err", err)
			s.close(fmt.Errorf("smpp: enquire_link unanswered: %w", err))
			return
		}
	}
}

// unbind waits for outstanding requests (until ctx ends), sends unbind
// (§4.2), waits briefly for unbind_resp and closes the connection.
func (s *session) unbind(ctx context.Context) error {
	s.mu.Lock()
	s.unbinding.Store(true) // no new requests from here on
	s.mu.Unlock()
	drained := make(chan struct{})
	go func() { s.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
	case <-s.done:
	}
	var err error
	if !s.isClosed() {
		err = s.sendUnbind(ctx)
	}
	s.close(ErrClosed)
	s.handlers.Wait()
	return err
}

func (s *session) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// sendUnbind writes unbind and waits for unbind_resp, bypassing the
// unbinding gate of request.
func (s *session) sendUnbind(ctx context.Context) error {
	ch := make(chan result, 1)
	s.mu.Lock()
	seq := s.nextSeq()
	s.pending[seq] = ch
	s.mu.Unlock()
	if err := s.write(&PDU{ID: Unbind, Seq: seq}); err != nil {
		return fmt.Errorf("smpp: unbind: %w", err)
	}
	t := time.NewTimer(min(s.c.opts.ResponseTimeout, 2*time.Second))
	defer t.Stop()
	select {
	case r := <-ch:
		if r.p != nil && r.p.Status != StatusOK {
			return fmt.Errorf("smpp: unbind: %w", &StatusError{Command: r.p.ID, Status: r.p.Status})
		}
		return nil
	case <-s.done:
		return nil
	case <-t.C:
		return errors.New("smpp: unbind: no unbind_resp")
	case <-ctx.Done():
		return fmt.Errorf("smpp: unbind: %w", ctx.Err())
	}
}
