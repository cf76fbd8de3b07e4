package rspamd_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"congthu/filter/rspamd"
	"congthu/internal/testenv"
)

func msg(subject, body string) []byte {
	return []byte("From: Phòng Một cửa <motcua@hoankiem.hanoi.gov.vn>\r\nTo: vp@hanoi.gov.vn\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + testenv.Name("m") + "@hoankiem.hanoi.gov.vn>\r\nDate: Sun, 6 Dec 2026 10:00:00 +0700\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n")
}

var env = rspamd.Envelope{From: "motcua@hoankiem.hanoi.gov.vn", Rcpts: []string{"vp@hanoi.gov.vn"}, IP: "203.0.113.5",
	Helo: "mail.hoankiem.hanoi.gov.vn", QueueID: "q1"}

func TestRspamd(t *testing.T) {
	redis := testenv.StartRedis(t)
	d := testenv.StartRspamd(t, redis.Addr)
	ctx := context.Background()
	for _, c := range []*rspamd.Client{{URL: d.URL}, {URL: d.Controller, Password: d.Password}} {
		url := c.URL
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := c.Check(ctx, msg("Quảng cáo", testenv.GTUBE), env)
		if err != nil || res.Action != rspamd.ActionReject || res.SMTPMessage != "Gtube pattern" || res.Symbols["GTUBE"] != 0 {
			t.Errorf("%s GTUBE: %+v %v", url, res, err)
		}
		if _, ok := res.Symbols["GTUBE"]; !ok || !strings.Contains(res.SymbolList(), "GTUBE(0.00)") {
			t.Errorf("GTUBE symbols: %v", res.SymbolList())
		}
		res, err = c.Check(ctx, msg("Giấy mời họp", "Kính gửi các đồng chí, trân trọng kính mời dự họp giao ban sáng thứ Hai."), env)
		if err != nil || res.Action == rspamd.ActionReject || res.Score >= res.RequiredScore || res.RequiredScore == 0 {
			t.Errorf("%s a clean message: %+v %v", url, res, err)
		}
	}
	c := &rspamd.Client{URL: d.Controller, Password: d.Password}
	spam := msg("Trúng thưởng", "Bạn đã trúng thưởng 100 triệu, bấm vào liên kết.")
	if err := c.Learn(ctx, spam, true); err != nil {
		t.Errorf("learn spam: %v", err)
	}
	if err := c.Learn(ctx, spam, true); err != nil {
		t.Errorf("learn the same spam again: %v", err)
	}
	if n, err := c.Learned(ctx); err != nil || n != 1 {
		t.Errorf("learned %d (%v), want 1 after the same message twice", n, err)
	}
	if err := c.Learn(ctx, msg("Lịch công tác", "Lịch công tác tuần của lãnh đạo."), false); err != nil {
		t.Errorf("learn ham: %v", err)
	}
	bad := &rspamd.Client{URL: d.Controller, Password: "wrong"}
	var re *rspamd.Error
	if err := bad.Learn(ctx, spam, true); !errors.As(err, &re) || re.Status != 401 {
		t.Errorf("wrong password: %v", err)
	}
	d.Stop()
	down := &rspamd.Client{URL: d.URL, Timeout: 2 * time.Second}
	if _, err := down.Check(ctx, spam, env); !errors.As(err, &re) || re.Status != 0 {
		t.Errorf("rspamd down: %v", err)
	}
}

// TestAddHeader: the test daemon's symbol scores a message "add header".
func TestAddHeader(t *testing.T) {
	d := testenv.StartRspamd(t, "")
	c := &rspamd.Client{URL: d.URL}
	res, err := c.Check(context.Background(), msg("=?UTF-8?B?VGjDtG5nIGLDoW8=?= "+testenv.Spammy, "Nội dung."), env)
	if err != nil || res.Action != rspamd.ActionAddHeader || res.Symbols["CONGTHU_TEST_SPAMMY"] != 8 {
		t.Errorf("%+v %v", res, err)
	}
}
