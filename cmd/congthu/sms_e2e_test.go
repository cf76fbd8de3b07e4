package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"congthu/internal/testenv"
	"congthu/sms/smpp/smpptest"
)

// TestE2ESMSWiring runs `congthu serve` with an SMSC that is down at
// start (serve must start anyway), then brings the Net::SMPP SMSC up on
// the configured port: a live SMS event posted to the API is sent over
// SMPP and ends delivered by the SMSC's receipt.
func TestE2ESMSWiring(t *testing.T) {
	if err := exec.Command("perl", "-MNet::SMPP", "-e1").Run(); err != nil {
		t.Fatalf("perl with Net::SMPP missing (apt-get install libnet-smpp-perl): %v", err)
	}
	ports := testenv.FreePorts(t, 2)
	smscPort := ports[0]
	httpAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_HTTP_ADDR="+httpAddr,
		fmt.Sprintf("CONGTHU_SMPP_ADDR=127.0.0.1:%d", smscPort), "CONGTHU_SMPP_SYSTEM_ID=congthu", "CONGTHU_SMPP_PASSWORD=secret",
		"CONGTHU_SMS_SENDER=UBND-HN", "CONGTHU_SMS_QUIET_HOURS=off")
	n.addr["http"] = httpAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn") // the API's sender domain
	key := strings.TrimSpace(n.admin(t, "", "apikey", "create", "--service", "motcua"))
	n.start(t)
	defer n.stop(t)

	body := `{"event_id":"sms-1","status":"received","channels":["sms"],
		"applicant":{"name":"Nguyễn Văn An","phone":"0912 345 678"},
		"procedure":"Cấp giấy phép xây dựng nhà ở riêng lẻ","agency":"Ủy ban nhân dân quận Hoàn Kiếm","agency_short":"UBND Q.Hoàn Kiếm",
		"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/dossiers/000.00.12.H26-1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST event: %d %s", resp.StatusCode, b)
	}
	var created struct {
		Notifications []struct{ ID string } `json:"notifications"`
	}
	json.Unmarshal(b, &created)
	if len(created.Notifications) != 1 {
		t.Fatalf("created: %s", b)
	}
	id := created.Notifications[0].ID

	// The SMSC comes up now.
	smsc := smpptest.Start(t, "--port", fmt.Sprint(smscPort), "--dlr", "delivered")

	deadline := time.Now().Add(60 * time.Second)
	var status, detail string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+httpAddr+"/v1/notifications/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var v struct {
				Status       string `json:"status"`
				StatusDetail string `json:"status_detail"`
			}
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			status, detail = v.Status, v.StatusDetail
			if status == "delivered" {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != "delivered" {
		t.Fatalf("SMS status %s %q, want delivered\nSMSC:\n%s\nserve:\n%s", status, detail, smsc.Log(), n.logs)
	}
}
