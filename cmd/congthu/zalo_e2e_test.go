package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"congthu/internal/testenv"
	"congthu/sms/smpp/smpptest"
	"congthu/zns/znstest"
)

// zaloAPI is a client of a node's API with one key.
type zaloAPI struct {
	t    *testing.T
	base string
	key  string
}

func (a zaloAPI) do(method, path, body string) (int, []byte) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type zaloNote struct {
	ID            string            `json:"id"`
	Channel       string            `json:"channel"`
	Status        string            `json:"status"`
	StatusDetail  string            `json:"status_detail"`
	PhoneNumber   string            `json:"phone_number"`
	ZNSTemplateID string            `json:"zns_template_id"`
	ZNSData       map[string]string `json:"zns_data"`
	CostVND       int64             `json:"cost_vnd"`
}

// dossierNotes polls the dossier's notifications until done says they are
// settled, or 30 s pass.
func (a zaloAPI) dossierNotes(code string, done func([]zaloNote) bool) []zaloNote {
	a.t.Helper()
	var notes []zaloNote
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		st, b := a.do("GET", "/v1/dossiers/"+code+"/notifications", "")
		if st != 200 {
			a.t.Fatalf("list: %d %s", st, b)
		}
		var v struct {
			Notifications []zaloNote `json:"notifications"`
		}
		json.Unmarshal(b, &v)
		notes = v.Notifications
		if done(notes) {
			break
		}
	}
	return notes
}

func byChannel(notes []zaloNote, ch string) []zaloNote {
	var out []zaloNote
	for _, n := range notes {
		if n.Channel == ch {
			out = append(out, n)
		}
	}
	return out
}

func settled(n []zaloNote, ch string, status string) bool {
	for _, x := range byChannel(n, ch) {
		if x.Status == status {
			return true
		}
	}
	return false
}

// TestE2EZalo runs `congthu serve` with Zalo configured against the test
// ZNS peer (which signs and posts a receipt for every message it accepts)
// and the Net::SMPP SMSC: an event with channels ["email", "zalo", "sms"]
// reaches Zalo and is delivered by its receipt, with no SMS; an event for
// a number not on Zalo (-118) fails on Zalo and its SMS goes out once; a
// forged event is refused with 401; prices are recorded as sent.
func TestE2EZalo(t *testing.T) {
	ports := testenv.FreePorts(t, 2)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	z := znstest.New(znstest.Options{AppID: "app-1", AppSecret: "s3cret", OASecret: "oa-secret", RefreshToken: "r0",
		Webhook: "http://" + httpAddr + "/v1/zalo/events", AutoReceipt: true, ReceiptDelay: 50 * time.Millisecond})
	t.Cleanup(z.Close)
	z.Fail("+84900000003", -118)
	smsc := smpptest.Start(t, "--port", fmt.Sprint(ports[1]), "--dlr", "delivered")
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_HTTP_ADDR="+httpAddr,
		"CONGTHU_SMPP_ADDR="+smsc.Addr, "CONGTHU_SMPP_SYSTEM_ID=congthu", "CONGTHU_SMPP_PASSWORD=secret",
		"CONGTHU_SMS_SENDER=UBND-HN", "CONGTHU_SMS_QUIET_HOURS=off",
		"CONGTHU_ZNS_API_URL="+z.URL(), "CONGTHU_ZNS_OAUTH_URL="+z.URL(), "CONGTHU_ZNS_APP_ID=app-1",
		"CONGTHU_ZNS_APP_SECRET=s3cret", "CONGTHU_ZNS_REFRESH_TOKEN=r0", "CONGTHU_ZNS_OA_SECRET=oa-secret",
		"CONGTHU_PRICE_ZNS_VND=300", "CONGTHU_PRICE_SMS_VND=800")
	n.addr["http"] = httpAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	api := zaloAPI{t: t, base: "http://" + httpAddr, key: strings.TrimSpace(n.admin(t, "", "apikey", "create", "--service", "motcua"))}
	n.start(t)
	defer n.stop(t)

	event := func(code, id, phone, channels string) {
		t.Helper()
		body := `{"event_id":"` + id + `","status":"received",` + channels + `
			"applicant":{"name":"Nguyễn Văn An","phone":"` + phone + `","email":"an@example.com"},
			"procedure":"Cấp giấy phép xây dựng nhà ở riêng lẻ","agency":"Ủy ban nhân dân quận Hoàn Kiếm","agency_short":"UBND Q.Hoàn Kiếm",
			"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`
		if st, b := api.do("POST", "/v1/dossiers/"+code+"/events", body); st != 201 {
			t.Fatalf("POST event %s: %d %s", id, st, b)
		}
	}

	// Delivered on Zalo: no SMS.
	event("000.00.12.H26-Z1", "z-1", "0912 345 678", `"channels":["email","zalo","sms"],`)
	notes := api.dossierNotes("000.00.12.H26-Z1", func(n []zaloNote) bool { return settled(n, "zalo", "delivered") })
	zl := byChannel(notes, "zalo")
	if len(zl) != 1 || zl[0].Status != "delivered" || zl[0].StatusDetail != "Zalo: user_received_message" {
		t.Fatalf("zalo notification %+v\nserve:\n%s", notes, n.logs)
	}
	if zl[0].ZNSTemplateID != "248001" || zl[0].ZNSData["customer_name"] != "Nguyễn Văn An" || zl[0].PhoneNumber != "+84912345678" || zl[0].CostVND != 300 {
		t.Errorf("zalo notification content %+v", zl[0])
	}
	if len(byChannel(notes, "email")) != 1 || len(byChannel(notes, "sms")) != 0 {
		t.Errorf("channels of the delivered event: %+v", notes)
	}
	sent := z.Sent()
	if len(sent) != 1 || sent[0].Phone != "84912345678" || sent[0].TrackingID != zl[0].ID || sent[0].TemplateID != "248001" {
		t.Errorf("ZNS peer got %+v", sent)
	}

	// Not on Zalo: permanent failure, then the SMS, once. The default
	// channels with Zalo configured are email, zalo, sms.
	event("000.00.12.H26-Z2", "z-2", "0900000003", "")
	notes = api.dossierNotes("000.00.12.H26-Z2", func(n []zaloNote) bool { return settled(n, "sms", "delivered") })
	zl, sms := byChannel(notes, "zalo"), byChannel(notes, "sms")
	if len(zl) != 1 || zl[0].Status != "permanent-failure" || !strings.Contains(zl[0].StatusDetail, "not reachable on Zalo") {
		t.Fatalf("zalo notification %+v\nserve:\n%s", notes, n.logs)
	}
	if len(sms) != 1 || sms[0].Status != "delivered" || sms[0].PhoneNumber != "+84900000003" || sms[0].CostVND != 800 {
		t.Fatalf("sms fallback %+v\nserve:\n%s", sms, n.logs)
	}
	if want := "fallback for zalo " + zl[0].ID + " (permanent-failure)"; !strings.Contains(api.get(t, sms[0].ID), want) {
		t.Errorf("sms timeline lacks %q", want)
	}
	time.Sleep(500 * time.Millisecond) // a second SMS would have been submitted by now
	if got := smsc.Count("SUBMIT"); got != 1 {
		t.Errorf("SMSC got %d submits, want 1\n%s", got, smsc.Log())
	}

	// Usage: what was sent and what it cost, by the API and the CLI.
	today := time.Now().In(time.FixedZone("ICT", 7*3600)).Format(time.DateOnly)
	st, b := api.do("GET", "/v1/usage?from="+today+"&to="+today, "")
	var usage struct {
		Usage []struct {
			Service, Channel                                 string
			Notifications, SMSParts, Delivered, Failed, Cost int64
		} `json:"usage"`
		TotalCostVND int64 `json:"total_cost_vnd"`
	}
	json.Unmarshal(b, &usage)
	// The message Zalo refused (-118) costs nothing: one Zalo message and one SMS part.
	if st != 200 || usage.TotalCostVND != 300+800 {
		t.Errorf("usage: %d %s", st, b)
	}
	for _, want := range []string{`"channel":"zalo","notifications":2,"sms_parts":0,"delivered":1,"failed":1,"pending":0,"cost_vnd":300`,
		`"channel":"sms","notifications":1,"sms_parts":1,"delivered":1,"failed":0,"pending":0,"cost_vnd":800`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("usage lacks %s: %s", want, b)
		}
	}
	if st, b := api.do("GET", "/v1/usage?from="+today+"&to="+today+"&service=other", ""); st != 403 || !strings.Contains(string(b), `"field":"service"`) {
		t.Errorf("another service's usage with a service key: %d %s", st, b)
	}
	if st, b := api.do("GET", "/v1/usage?from=2026-13-01&to="+today, ""); st != 400 || !strings.Contains(string(b), `"field":"from"`) {
		t.Errorf("bad from: %d %s", st, b)
	}
	csv := n.admin(t, "", "usage", "--from", today, "--to", today, "--csv")
	if !strings.Contains(csv, "motcua,sms,1,1,1,0,0,800\n") || !strings.Contains(csv, "motcua,zalo,2,0,1,1,0,300\n") {
		t.Errorf("usage --csv:\n%s", csv)
	}

	// A forged event changes nothing.
	body := []byte(`{"app_id":"app-1","event_name":"user_received_message","timestamp":"1","message":{"msg_id":"x"}}`)
	if err := z.Post(body, "mac=00"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("forged event: %v, want 401", err)
	}
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/zalo/events", strings.NewReader(string(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"field":"X-ZEvent-Signature"`) {
		t.Errorf("unsigned event: %d %s", resp.StatusCode, b)
	}

	// Channel order: sms before zalo is refused, naming the field.
	if st, b := api.do("POST", "/v1/dossiers/000.00.12.H26-Z3/events", `{"event_id":"z-3","status":"received","channels":["sms","zalo"],
		"applicant":{"name":"A","phone":"0912345678"},"agency":"UBND","received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00",
		"procedure":"P"}`); st != 422 || !strings.Contains(string(b), `"field":"channels"`) {
		t.Errorf("sms before zalo: %d %s", st, b)
	}
}

// get returns the notification's JSON with its timeline.
func (a zaloAPI) get(t *testing.T, id string) string {
	st, b := a.do("GET", "/v1/notifications/"+id, "")
	if st != 200 {
		t.Fatalf("GET %s: %d %s", id, st, b)
	}
	return string(b)
}

// TestE2EZaloTwoNodes: two serve processes share PostgreSQL and Redis and
// send Zalo notifications. Zalo sees one refresh for the first token and,
// after the access token expires mid-run, exactly one more; a node
// restarted with the operator's first (spent) refresh token uses the
// stored, rotated pair and refreshes nothing.
func TestE2EZaloTwoNodes(t *testing.T) {
	pg, rd := testenv.Postgres(t), testenv.Redis(t)
	ports := testenv.FreePorts(t, 2)
	addrs := []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])}
	z := znstest.New(znstest.Options{AppID: "app-2", AppSecret: "s3cret", OASecret: "oa", RefreshToken: "r0",
		Webhook: "http://" + addrs[0] + "/v1/zalo/events", AutoReceipt: true})
	t.Cleanup(z.Close)
	var nodes []*node
	for _, a := range addrs {
		n := newNode(t, "CONGTHU_DATABASE_URL="+pg, "CONGTHU_REDIS_URL="+rd, "CONGTHU_HTTP_ADDR="+a, "CONGTHU_SMS_QUIET_HOURS=off",
			"CONGTHU_ZNS_API_URL="+z.URL(), "CONGTHU_ZNS_OAUTH_URL="+z.URL(), "CONGTHU_ZNS_APP_ID=app-2",
			"CONGTHU_ZNS_APP_SECRET=s3cret", "CONGTHU_ZNS_REFRESH_TOKEN=r0", "CONGTHU_ZNS_OA_SECRET=oa")
		n.addr["http"] = a
		nodes = append(nodes, n)
	}
	nodes[0].admin(t, "", "domain", "add", "hanoi.gov.vn")
	key := strings.TrimSpace(nodes[0].admin(t, "", "apikey", "create", "--service", "motcua"))
	for _, n := range nodes {
		n.start(t)
	}
	// One number per event: per-number limits hold the sixth to one number.
	post := func(i int, id string) {
		t.Helper()
		api := zaloAPI{t: t, base: "http://" + addrs[i%2], key: key}
		body := `{"event_id":"` + id + `","status":"received","channels":["zalo"],"applicant":{"name":"Trần Thị Bình","phone":"` + fmt.Sprintf("09123450%02d", i) + `"},
			"procedure":"P","agency":"UBND","received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`
		if st, b := api.do("POST", "/v1/dossiers/000.00.12.H26-T"+id+"/events", body); st != 201 {
			t.Fatalf("POST %s: %d %s", id, st, b)
		}
	}
	waitSent := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); len(z.Sent()) < n; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("ZNS peer got %d messages, want %d\nnode 0:\n%s\nnode 1:\n%s", len(z.Sent()), n, nodes[0].logs, nodes[1].logs)
			}
		}
	}
	for i := range 6 {
		post(i, fmt.Sprint(i))
	}
	waitSent(6)
	if ok, refused := z.Refreshes(); ok != 1 || refused != 0 {
		t.Errorf("first tokens: %d refreshes, %d refused; want 1, 0", ok, refused)
	}
	z.ExpireAccess()
	for i := 6; i < 12; i++ {
		post(i, fmt.Sprint(i))
	}
	waitSent(12)
	if ok, refused := z.Refreshes(); ok != 2 || refused != 0 {
		t.Errorf("after expiry: %d refreshes, %d refused; want 2, 0", ok, refused)
	}
	nodes[1].stop(t)
	nodes[1].start(t)
	post(13, "restart")
	waitSent(13)
	if ok, refused := z.Refreshes(); ok != 2 || refused != 0 {
		t.Errorf("after a restart: %d refreshes, %d refused; want 2, 0 (the stored pair, not the spent r0)", ok, refused)
	}
	for _, n := range nodes {
		n.stop(t)
	}
}

// TestE2EReminders: appointment reminders through the built binary, on
// Zalo: scheduled with the event, sent at their time once across a
// restart, replaced by a delayed event's new appointment, cancelled by
// result_ready and by DELETE.
func TestE2EReminders(t *testing.T) {
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1)[0])
	z := znstest.New(znstest.Options{AppID: "app-3", AppSecret: "s3cret", OASecret: "oa", RefreshToken: "r0",
		Webhook: "http://" + httpAddr + "/v1/zalo/events", AutoReceipt: true})
	t.Cleanup(z.Close)
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_HTTP_ADDR="+httpAddr, "CONGTHU_SMS_QUIET_HOURS=off",
		"CONGTHU_ZNS_API_URL="+z.URL(), "CONGTHU_ZNS_OAUTH_URL="+z.URL(), "CONGTHU_ZNS_APP_ID=app-3",
		"CONGTHU_ZNS_APP_SECRET=s3cret", "CONGTHU_ZNS_REFRESH_TOKEN=r0", "CONGTHU_ZNS_OA_SECRET=oa",
		"CONGTHU_REMINDER_LEAD=1h", "CONGTHU_REMINDER_MIN_NOTICE=0s")
	n.addr["http"] = httpAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	api := zaloAPI{t: t, base: "http://" + httpAddr, key: strings.TrimSpace(n.admin(t, "", "apikey", "create", "--service", "motcua"))}
	n.start(t)

	post := func(code, id, status, phone, extra string) {
		t.Helper()
		body := `{"event_id":"` + id + `","status":"` + status + `","channels":["zalo"],"applicant":{"name":"Lê Văn Cường","phone":"` + phone + `"},
			"procedure":"Đăng ký khai sinh","agency":"UBND phường Phúc Tân","collect_place":"Bộ phận một cửa, số 1 Phúc Tân",
			"received_at":"2026-03-15T09:00:00+07:00"` + extra + `}`
		if st, b := api.do("POST", "/v1/dossiers/"+code+"/events", body); st != 201 {
			t.Fatalf("POST %s: %d %s", id, st, b)
		}
	}
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	reminders := func(code string) []zaloNote {
		t.Helper()
		var out []zaloNote
		for _, x := range api.dossierNotes(code, func([]zaloNote) bool { return true }) {
			if x.ZNSTemplateID == "248008" {
				out = append(out, x)
			}
		}
		return out
	}
	soon := time.Hour + 8*time.Second // due 8 s from now
	post("HS-R1", "r1", "received", "0912000001", `,"appointment_at":"`+at(soon)+`"`)
	post("HS-R2", "r2", "received", "0912000002", `,"appointment_at":"`+at(soon)+`"`)
	post("HS-R2", "r2-delayed", "delayed", "0912000002", `,"appointment_at":"`+at(soon)+`","new_appointment_at":"`+at(48*time.Hour)+`","reason":"Cần xác minh thêm"`)
	post("HS-R3", "r3", "received", "0912000003", `,"appointment_at":"`+at(soon)+`"`)
	post("HS-R3", "r3-ready", "result_ready", "0912000003", "")

	r1 := reminders("HS-R1")
	if len(r1) != 1 || r1[0].Status != "scheduled" || !strings.Contains(r1[0].StatusDetail, "reminder of the appointment at") {
		t.Fatalf("HS-R1 reminders %+v", r1)
	}
	r2 := reminders("HS-R2")
	if len(r2) != 2 || r2[0].Status == r2[1].Status {
		t.Fatalf("HS-R2 reminders %+v", r2)
	}
	var live zaloNote
	for _, x := range r2 {
		switch x.Status {
		case "cancelled":
			if !strings.Contains(x.StatusDetail, "replaced by the appointment of event r2-delayed") {
				t.Errorf("replaced reminder: %q", x.StatusDetail)
			}
		case "scheduled":
			live = x
		}
	}
	if r3 := reminders("HS-R3"); len(r3) != 1 || r3[0].Status != "cancelled" || !strings.Contains(r3[0].StatusDetail, "the result is ready") {
		t.Errorf("HS-R3 reminders %+v", r3)
	}

	// A restart before the time: the reminder is sent once all the same.
	n.stop(t)
	n.start(t)
	defer n.stop(t)
	var got []zaloNote
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = reminders("HS-R1"); len(got) == 1 && got[0].Status == "delivered" {
			break
		}
	}
	if len(got) != 1 || got[0].Status != "delivered" {
		t.Fatalf("HS-R1 reminder after its time: %+v\n%s", got, n.logs)
	}
	time.Sleep(6 * time.Second) // another release round
	var sentReminders []znstest.Sent
	for _, s := range z.Sent() {
		if s.TemplateID == "248008" {
			sentReminders = append(sentReminders, s)
		}
	}
	if len(sentReminders) != 1 || sentReminders[0].Phone != "84912000001" || sentReminders[0].Data["place"] != "Bộ phận một cửa, số 1 Phúc Tân" {
		t.Errorf("reminders Zalo got: %+v", sentReminders)
	}

	// DELETE cancels a scheduled one; a second time is 409.
	if st, b := api.do("DELETE", "/v1/notifications/"+live.ID, ""); st != 200 || !strings.Contains(string(b), `"status":"cancelled"`) {
		t.Errorf("DELETE: %d %s", st, b)
	}
	if st, b := api.do("DELETE", "/v1/notifications/"+live.ID, ""); st != 409 || !strings.Contains(string(b), `"field":"id"`) {
		t.Errorf("DELETE again: %d %s", st, b)
	}
	if st, _ := api.do("DELETE", "/v1/notifications/"+got[0].ID, ""); st != 409 {
		t.Errorf("DELETE a delivered one: %d", st)
	}
}
