package main

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/internal/testenv"
)

// TestE2EIMAPMetrics: the built binary's /metrics counts IMAP
// connections, logins and commands by name and result, exactly.
func TestE2EIMAPMetrics(t *testing.T) {
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1)[0])
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_HTTP_ADDR="+httpAddr)
	n.addr["http"] = httpAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	const pw = "mat-khau-cua-an-1"
	n.admin(t, pw+"\n", "user", "add", "--password-stdin", "nva.stp@hanoi.gov.vn")
	n.start(t)
	defer n.stop(t)

	before := scrapeNode(t, "http://"+httpAddr+"/metrics")
	dial := func() *imapclient.Client {
		t.Helper()
		c, err := imapclient.DialTLS(n.addr["imaps"], &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial()
	if err := c.Login("nva.stp@hanoi.gov.vn", "sai-mat-khau").Wait(); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	c.Close()
	c = dial()
	if err := c.Login("nva.stp@hanoi.gov.vn", pw).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{Flags: true}).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("Khong-co", nil).Wait(); err == nil {
		t.Fatal("SELECT of a missing mailbox succeeded")
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()

	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; {
		got = scrapeNode(t, "http://"+httpAddr+"/metrics")
		if got[`congthu_imap_connections_open`] == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := got[`congthu_imap_connections_open`]; v != 0 {
		t.Errorf("congthu_imap_connections_open = %v after the clients left, want 0", v)
	}
	// start's readiness dial may be counted after the first scrape.
	if v := got[`congthu_imap_connections_total{listener="imaps"}`] - before[`congthu_imap_connections_total{listener="imaps"}`]; v < 2 || v > 3 {
		t.Errorf("congthu_imap_connections_total{listener=\"imaps\"} moved by %v, want 2 (3 with the readiness dial)", v)
	}
	for series, want := range map[string]float64{
		`congthu_login_attempts_total{protocol="imap",result="ok"}`:     1,
		`congthu_login_attempts_total{protocol="imap",result="failed"}`: 1,
		`congthu_imap_commands_total{command="LOGIN",result="ok"}`:      1,
		`congthu_imap_commands_total{command="LOGIN",result="no"}`:      1,
		`congthu_imap_commands_total{command="SELECT",result="ok"}`:     1,
		`congthu_imap_commands_total{command="SELECT",result="no"}`:     1,
		`congthu_imap_commands_total{command="UID FETCH",result="ok"}`:  1,
		`congthu_imap_commands_total{command="LOGOUT",result="ok"}`:     1,
	} {
		if v := got[series] - before[series]; v != want {
			t.Errorf("%s moved by %v, want %v", series, v, want)
		}
	}
}
