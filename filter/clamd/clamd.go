// Package clamd asks a ClamAV daemon whether a message carries malware,
// over clamd's stream protocol (TCP or a Unix socket):
//
//	zINSTREAM\0 <len:4 bytes, big endian><chunk> ... <0:4 bytes>
//
// answered "stream: OK\0", "stream: <signature> FOUND\0", or
// "<reason> ERROR\0". clamd decodes the MIME parts and archives of a
// message itself (its ScanMail and ScanArchive settings), so the whole
// message is sent as it is.
package clamd

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Client talks to one clamd. Its zero value is not usable: set Addr.
type Client struct {
	// Addr is "host:port" or "unix:/path/to/clamd.ctl".
	Addr string
	// Timeout bounds one scan, connection included; default 30 s.
	Timeout time.Duration
}

// Result is clamd's verdict on a message.
type Result struct {
	// Signature names the malware found; "" when the message is clean.
	Signature string
}

// Infected reports whether clamd found malware.
func (r Result) Infected() bool { return r.Signature != "" }

// Error is clamd refusing or failing a scan (e.g. "INSTREAM size limit
// exceeded"), or the daemon not answering.
type Error struct {
	Reply string // clamd's reply, "" when there was none
	Err   error
}

func (e *Error) Error() string {
	if e.Reply != "" {
		return "clamd: " + e.Reply
	}
	return "clamd: " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// chunk is the size of one INSTREAM chunk.
const chunk = 64 << 10

// maxReply bounds what is read of an answer.
const maxReply = 4 << 10

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	network, addr := "tcp", c.Addr
	if p, ok := strings.CutPrefix(c.Addr, "unix:"); ok {
		network, addr = "unix", p
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &Error{Err: err}
	}
	conn.SetDeadline(time.Now().Add(timeout))
	return conn, nil
}

// command sends cmd (with the z prefix and NUL) and writes body, if any, as
// INSTREAM chunks; it returns the reply without its NUL.
func (c *Client) command(ctx context.Context, cmd string, body []byte) (string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	w := bufio.NewWriterSize(conn, chunk+4)
	w.WriteString("z" + cmd + "\x00")
	if body != nil {
		var n [4]byte
		for len(body) > 0 {
			k := min(len(body), chunk)
			binary.BigEndian.PutUint32(n[:], uint32(k))
			w.Write(n[:])
			w.Write(body[:k])
			body = body[k:]
		}
		binary.BigEndian.PutUint32(n[:], 0)
		w.Write(n[:])
	}
	if err := w.Flush(); err != nil {
		// clamd closes the connection when the stream passes its
		// StreamMaxLength; its reply may still be there to read.
		if reply, rerr := readReply(conn); rerr == nil && reply != "" {
			return reply, nil
		}
		return "", &Error{Err: err}
	}
	reply, err := readReply(conn)
	if err != nil {
		return "", &Error{Err: err}
	}
	return reply, nil
}

// readReply reads clamd's answer: up to its NUL, or what came before the
// connection closed.
func readReply(conn net.Conn) (string, error) {
	b, err := bufio.NewReader(io.LimitReader(conn, maxReply)).ReadBytes(0)
	if err != nil && len(b) == 0 {
		return "", err
	}
	return strings.TrimRight(string(b), "\x00\n"), nil
}

// Scan sends msg to clamd and returns its verdict. A reply that is neither
// OK nor FOUND is an *Error (the message was not scanned).
func (c *Client) Scan(ctx context.Context, msg []byte) (Result, error) {
	if msg == nil {
		msg = []byte{}
	}
	reply, err := c.command(ctx, "INSTREAM", msg)
	if err != nil {
		return Result{}, err
	}
	rest, ok := strings.CutPrefix(reply, "stream: ")
	switch {
	case ok && rest == "OK":
		return Result{}, nil
	case ok && strings.HasSuffix(rest, " FOUND"):
		return Result{Signature: strings.TrimSuffix(rest, " FOUND")}, nil
	}
	return Result{}, &Error{Reply: reply}
}

// Ping checks that clamd answers, and returns its version line.
func (c *Client) Ping(ctx context.Context) (string, error) {
	reply, err := c.command(ctx, "PING", nil)
	if err != nil {
		return "", err
	}
	if reply != "PONG" {
		return "", &Error{Reply: reply}
	}
	v, err := c.command(ctx, "VERSION", nil)
	if err != nil {
		return "", err
	}
	return v, nil
}

// String describes the client for logs.
func (c *Client) String() string { return fmt.Sprintf("clamd %s", c.Addr) }
