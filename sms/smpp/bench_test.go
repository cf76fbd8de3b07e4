package smpp

import (
	"bufio"
	"congthu/sms/smpp/smpptest"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startGoSMSC runs a minimal SMSC on our own codec that answers every
// request at once. It exists only to measure the client without the Perl
// SMSC's own cost; behaviour is tested against the Perl one.
func startGoSMSC(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ids atomic.Uint64
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				br, bw := bufio.NewReader(conn), bufio.NewWriter(conn)
				for {
					f, err := ReadFrame(br)
					if err != nil {
						return
					}
					p, err := Decode(f)
					if err != nil {
						return
					}
					r := &PDU{ID: p.ID | 0x80000000, Seq: p.Seq}
					switch p.ID {
					case BindTransceiver, BindTransmitter, BindReceiver:
						r.Body = &BindResp{SystemID: "gosmsc"}
					case SubmitSM:
						r.Body = &SMResp{MessageID: fmt.Sprintf("%X", ids.Add(1))}
					case EnquireLink, Unbind:
					default:
						continue
					}
					b, _ := r.Marshal()
					bw.Write(b)
					if br.Buffered() == 0 {
						if bw.Flush() != nil {
							return
						}
					}
					if p.ID == Unbind {
						bw.Flush()
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// benchSubmits submits b.N one-part messages from 2×window goroutines, so
// the window of 10 stays full, and reports submits per second.
func benchSubmits(b *testing.B, addr string) {
	c := dial(b, addr, func(o *Options) { o.Window = 10; o.ResponseTimeout = 10 * time.Second })
	ctx := ctxT(b, 10*time.Minute)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 20 {
		wg.Go(func() {
			for i := range jobs {
				if _, err := c.Submit(ctx, Message{To: to, Text: fmt.Sprintf("Ho so %06d da duoc tiep nhan", i)}); err != nil {
					if failed.Add(1) == 1 {
						b.Error(err)
					}
				}
			}
		})
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "submits/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d submits failed", n)
	}
}

// BenchmarkSubmitPerl measures submits/s against the Net::SMPP SMSC, which
// answers at once. The Perl process is likely the bottleneck.
func BenchmarkSubmitPerl(b *testing.B) {
	s := smpptest.Start(b)
	benchSubmits(b, s.Addr)
}

// BenchmarkSubmitGo measures the same against the minimal Go SMSC.
func BenchmarkSubmitGo(b *testing.B) {
	benchSubmits(b, startGoSMSC(b))
}

// TestWindowBound checks the window against a peer that holds responses: with a window of
// 3, never more than 3 submits are outstanding.
func TestWindowBound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	maxOut := make(chan int, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		var held []*PDU
		most := 0
		for {
			conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			f, err := ReadFrame(br)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Quiet: the client is waiting on its window. Answer all.
				if len(held) > most {
					most = len(held)
				}
				for _, p := range held {
					b, _ := (&PDU{ID: SubmitSMResp, Seq: p.Seq, Body: &SMResp{MessageID: "1"}}).Marshal()
					conn.Write(b)
				}
				held = nil
				continue
			}
			if err != nil {
				maxOut <- most
				return
			}
			p, _ := Decode(f)
			switch p.ID {
			case BindTransceiver:
				b, _ := (&PDU{ID: BindTransceiverResp, Seq: p.Seq, Body: &BindResp{SystemID: "w"}}).Marshal()
				conn.Write(b)
			case SubmitSM:
				held = append(held, p)
			case Unbind:
				b, _ := (&PDU{ID: UnbindResp, Seq: p.Seq}).Marshal()
				conn.Write(b)
			}
		}
	}()
	c := dial(t, ln.Addr().String(), func(o *Options) { o.Window = 3 })
	var wg sync.WaitGroup
	for range 7 {
		wg.Go(func() {
			if _, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: "w"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	c.Close(ctxT(t, 5*time.Second))
	if most := <-maxOut; most != 3 {
		t.Errorf("at most %d submits outstanding, want 3", most)
	}
}
