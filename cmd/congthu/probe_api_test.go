package main

// Probes of the REST API's edges through the built binary, with curl:
// test and live keys kept apart, control characters in fields refused,
// callbacks never aimed inside.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/internal/testenv"
)

// apiProbe is a running node with the API, a smarthost sink standing in
// for the applicants' mail servers, and a live and a test key of one
// service.
type apiProbe struct {
	n          *node
	sink       *mxSink
	http       string // host:port
	live, test string
}

func startAPIProbe(t *testing.T, extra ...string) *apiProbe {
	t.Helper()
	sink := &mxSink{msgs: map[string][]byte{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "mx.example.org"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	n := newNode(t, append([]string{"CONGTHU_REDIS_URL=" + testenv.Redis(t), "CONGTHU_SMARTHOST=" + ln.Addr().String(),
		"CONGTHU_API_SENDER_DOMAIN=hanoi.gov.vn", "CONGTHU_HTTP_ADDR=" + httpAddr}, extra...)...)
	n.addr["http"] = httpAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	p := &apiProbe{n: n, sink: sink, http: httpAddr}
	p.live = strings.TrimSpace(n.admin(t, "", "apikey", "create", "--service", "motcua"))
	p.test = strings.TrimSpace(n.admin(t, "", "apikey", "create", "--service", "motcua", "--test"))
	return p
}

// curlResp is an HTTP answer as curl printed it.
type curlResp struct {
	code   int
	header http.Header
	body   []byte
}

// curl sends a request with curl and returns the answer.
func (p *apiProbe) curl(t *testing.T, method, path, key, body string, hdr ...string) curlResp {
	t.Helper()
	args := []string{"-sS", "-i", "-X", method, "-H", "Authorization: Bearer " + key}
	if body != "" {
		args = append(args, "-H", "Content-Type: application/json", "--data-binary", body)
	}
	for _, h := range hdr {
		args = append(args, "-H", h)
	}
	out, err := exec.Command("curl", append(args, "http://"+p.http+path)...).Output()
	if err != nil {
		t.Fatalf("curl %s %s: %v\n%s", method, path, err, out)
	}
	head, b, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	var r curlResp
	fmt.Sscanf(lines[0], "HTTP/1.1 %d", &r.code)
	r.header = http.Header{}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			r.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	r.body = b
	return r
}

func (r curlResp) fields(t *testing.T) []string {
	t.Helper()
	var e struct{ Errors []struct{ Field string } }
	json.Unmarshal(r.body, &e)
	var out []string
	for _, x := range e.Errors {
		out = append(out, x.Field)
	}
	return out
}

type probeCreated struct {
	Notifications []struct {
		ID           string `json:"id"`
		Test         bool   `json:"test"`
		EmailAddress string `json:"email_address"`
	} `json:"notifications"`
}

// probeEvent is a received event for an applicant, as JSON, with changes.
func probeEvent(eventID, email string, set map[string]any) string {
	ev := map[string]any{"event_id": eventID, "status": "received", "channels": []string{"email"},
		"applicant": map[string]any{"name": "Nguyễn Văn An", "email": email},
		"procedure": "Cấp giấy phép xây dựng nhà ở riêng lẻ", "agency": "Ủy ban nhân dân quận Hoàn Kiếm", "agency_short": "UBND Q.Hoàn Kiếm",
		"received_at": "2026-03-15T09:00:00+07:00", "appointment_at": "2026-03-29T16:00:00+07:00", "reference": "BO-1"}
	for k, v := range set {
		if k == "applicant.name" {
			ev["applicant"].(map[string]any)["name"] = v
			continue
		}
		ev[k] = v
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

// waitMail waits up to 30 s for the sink to receive mail for rcpt.
func (p *apiProbe) waitMail(t *testing.T, rcpt string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if raw := p.sink.get(rcpt); raw != nil {
			return raw
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail reached %s\n%s", rcpt, p.n.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Finding 3: a test key's event_id must not turn the live post of the same
// event into a replay (nothing would be sent), and a test key must never
// replay or read a live response.
func TestProbeAPITestAndLiveKeys(t *testing.T) {
	p := startAPIProbe(t)
	p.n.start(t)
	defer p.n.stop(t)
	const path = "/v1/dossiers/000.00.12.H26-260315-0001/events"

	// Test key first, then live with the same event_id.
	r := p.curl(t, "POST", path, p.test, probeEvent("evt-A", "an@example.org", nil))
	if r.code != 201 {
		t.Fatalf("test key: %d %s", r.code, r.body)
	}
	r = p.curl(t, "POST", path, p.live, probeEvent("evt-A", "an@example.org", nil))
	var live probeCreated
	json.Unmarshal(r.body, &live)
	if r.code != 201 || r.header.Get("Idempotent-Replayed") != "" || len(live.Notifications) != 1 || live.Notifications[0].Test {
		t.Fatalf("live key after the test key, same event_id: %d (Idempotent-Replayed %q) %s; want 201 and a live notification",
			r.code, r.header.Get("Idempotent-Replayed"), r.body)
	}
	raw := p.waitMail(t, "an@example.org")
	if !bytes.Contains(raw, []byte(live.Notifications[0].ID)) {
		t.Errorf("the mail sent is not the live notification %s", live.Notifications[0].ID)
	}

	// Live first, then test: the test key gets its own 201.
	r = p.curl(t, "POST", path, p.live, probeEvent("evt-B", "binh@example.org", nil))
	var liveB probeCreated
	json.Unmarshal(r.body, &liveB)
	if r.code != 201 || len(liveB.Notifications) != 1 {
		t.Fatalf("live key: %d %s", r.code, r.body)
	}
	r = p.curl(t, "POST", path, p.test, probeEvent("evt-B", "binh@example.org", nil))
	var testB probeCreated
	json.Unmarshal(r.body, &testB)
	if r.code != 201 || r.header.Get("Idempotent-Replayed") != "" || len(testB.Notifications) != 1 || !testB.Notifications[0].Test ||
		bytes.Contains(r.body, []byte(liveB.Notifications[0].ID)) {
		t.Fatalf("test key after the live key, same event_id: %d (Idempotent-Replayed %q) %s; want its own 201, never the live body",
			r.code, r.header.Get("Idempotent-Replayed"), r.body)
	}
	// The test key reads no live notification, lists none.
	if r := p.curl(t, "GET", "/v1/notifications/"+liveB.Notifications[0].ID, p.test, ""); r.code != 404 || bytes.Contains(r.body, []byte("binh@example.org")) {
		t.Errorf("test key GET a live notification: %d %s; want 404", r.code, r.body)
	}
	for _, q := range []string{"/v1/notifications", "/v1/dossiers/000.00.12.H26-260315-0001/notifications", "/v1/events"} {
		r := p.curl(t, "GET", q, p.test, "")
		for _, id := range []string{live.Notifications[0].ID, liveB.Notifications[0].ID} {
			if r.code != 200 || bytes.Contains(r.body, []byte(id)) {
				t.Errorf("test key GET %s: %d, shows the live %s: %s", q, r.code, id, r.body)
			}
		}
	}
}

// Finding 4: CR, LF or NUL in a field that reaches a header or a template
// is a 422 naming the field, never a 500; a long name still composes a
// message whose header lines are at most 998 octets.
func TestProbeAPIControlCharacters(t *testing.T) {
	p := startAPIProbe(t)
	p.n.start(t)
	defer p.n.stop(t)
	i := 0
	for _, field := range []string{"applicant.name", "agency", "agency_short", "procedure", "reference", "unit_name"} {
		for _, bad := range []string{"\r", "\n", "\r\nBcc: victim@example.org", "\x00"} {
			i++
			body := probeEvent(fmt.Sprintf("evt-cc-%d", i), "an@example.org", map[string]any{field: "Nguyễn Văn An" + bad})
			r := p.curl(t, "POST", "/v1/dossiers/HS-CC-1/events", p.live, body)
			if r.code != 422 || !slices.Contains(r.fields(t), field) {
				t.Errorf("%s with %q: %d %s; want 422 naming %s", field, bad, r.code, r.body, field)
			}
		}
	}
	for _, c := range []struct{ field, personalisation string }{
		{"personalisation.agency", `{"subject":"Thông báo","body":"b","agency":"Sở\r\nBcc: x@example.org"}`},
		{"personalisation.applicant.name", `{"subject":"Thông báo","body":"b","applicant":{"name":"An\nBcc: x@example.org"}}`},
		{"personalisation.subject", `{"subject":"Thông báo\u0000","body":"b"}`},
	} {
		r := p.curl(t, "POST", "/v1/notifications/email", p.live,
			`{"template_id":"generic-email","email_address":"an@example.org","personalisation":`+c.personalisation+`}`)
		if r.code != 422 || !slices.Contains(r.fields(t), c.field) {
			t.Errorf("%s: %d %s; want 422 naming it", c.field, r.code, r.body)
		}
	}

	// A name as long as the API takes goes out with short header lines.
	long := strings.Repeat("A", 1999)
	r := p.curl(t, "POST", "/v1/dossiers/HS-LONG-1/events", p.live, probeEvent("evt-long", "long@example.org", map[string]any{"applicant.name": long}))
	if r.code != 201 {
		t.Fatalf("long name: %d %s", r.code, r.body)
	}
	raw := p.waitMail(t, "long@example.org")
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(raw[:end]), "\r\n") {
		if len(line) > 998 || strings.ContainsAny(line, "\r\n") {
			t.Errorf("header line of %d octets: %.100q…", len(line), line)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if to, err := m.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Name != long {
		t.Errorf("To %.100q: %v", m.Header.Get("To"), err)
	}
	if strings.Contains(p.n.logs.String(), "internal error") || strings.Contains(p.n.logs.String(), "level=ERROR") {
		t.Errorf("server errors logged:\n%s", p.n.logs)
	}
}

// Finding 6 at set time: the CLI refuses callback URLs aimed inside
// (loopback, link-local, private, multicast, unspecified) and other
// schemes; an operator allows a network with CONGTHU_API_CALLBACK_ALLOW.
func TestProbeAPICallbackSet(t *testing.T) {
	n := newNode(t)
	n.admin(t, "", "domain", "add", "hanoi.gov.vn") // creates the store
	const secret = "bi-mat-cua-mot-cua-hoan-kiem"
	set := func(env []string, stdin string, args ...string) (int, string) {
		cmd := exec.Command(n.bin, append([]string{"service", "callback", "set", "motcua"}, args...)...)
		cmd.Env = append(append([]string{}, n.env...), env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	for _, u := range []string{
		"http://127.0.0.1:8080/cb", "http://127.0.0.2/cb", "http://localhost:8080/cb", "http://[::1]:8080/cb", "http://[::ffff:127.0.0.1]/cb",
		"http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/cb", "http://10.0.0.1/cb", "http://172.16.0.1/cb",
		"http://192.168.1.1/cb", "http://[fd00::1]/cb", "http://0.0.0.0:8080/cb", "http://224.0.0.1/cb", "http://100.64.0.1/cb",
		"ftp://203.162.4.191/cb", "file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL",
	} {
		// --secret works on old and new code: the refusal is the URL's.
		if code, out := set(nil, "", "--url", u, "--secret", secret); code == 0 {
			t.Errorf("callback set --url %s: accepted (%s)", u, out)
		} else if !strings.Contains(out, "refused") && !strings.Contains(out, "not an http(s) URL") {
			t.Errorf("callback set --url %s: exit %d, %q: want the reason", u, code, out)
		}
	}
	if out := n.admin(t, "", "service", "list"); strings.Contains(out, "127.0.0.1") || strings.Contains(out, "169.254") {
		t.Errorf("a refused URL was stored:\n%s", out)
	}
	if code, out := set(nil, secret+"\n", "--url", "https://203.162.4.191/cb", "--secret-stdin"); code != 0 {
		t.Errorf("public URL with --secret-stdin: exit %d %s", code, out)
	}
	if code, out := set([]string{"CONGTHU_API_CALLBACK_ALLOW=127.0.0.0/8"}, secret+"\n", "--url", "http://127.0.0.1:8080/cb", "--secret-stdin"); code != 0 {
		t.Errorf("allowed loopback: exit %d %s", code, out)
	}
}

// Finding 6 at delivery: a receiver answering 307 to another local
// listener does not send the signed body there (no redirect is followed:
// the 3xx is a failed attempt), and a URL registered while its network
// was allowed is refused at connect time once it is not.
func TestProbeAPICallbackDelivery(t *testing.T) {
	const secret = "bi-mat-cua-mot-cua-hoan-kiem"
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
	}))
	defer thief.Close()
	var hits atomic.Int32
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, thief.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	var received atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
	}))
	defer receiver.Close()

	// post sends a test-key event: the simulated delivery's status
	// change fires the callback.
	post := func(p *apiProbe, id string) {
		t.Helper()
		if r := p.curl(t, "POST", "/v1/dossiers/HS-CB-1/events", p.test, probeEvent(id, "an@example.org", nil)); r.code != 201 {
			t.Fatalf("POST: %d %s", r.code, r.body)
		}
	}
	t.Run("redirect", func(t *testing.T) {
		p := startAPIProbe(t, "CONGTHU_API_CALLBACK_ALLOW=127.0.0.0/8")
		p.n.admin(t, secret+"\n", "service", "callback", "set", "motcua", "--url", redirector.URL+"/cb", "--secret", secret)
		p.n.start(t)
		defer p.n.stop(t)
		post(p, "evt-cb-1")
		deadline := time.Now().Add(20 * time.Second)
		for hits.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the callback never came\n%s", p.n.logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		if n := stolen.Load(); n != 0 {
			t.Errorf("the redirect target received %d callbacks, want 0", n)
		}
		if !strings.Contains(p.n.logs.String(), "HTTP 307") {
			t.Errorf("the 307 is not logged as a failed attempt\n%s", p.n.logs)
		}
	})
	t.Run("connect time", func(t *testing.T) {
		p := startAPIProbe(t)
		cmd := exec.Command(p.n.bin, "service", "callback", "set", "motcua", "--url", receiver.URL+"/cb", "--secret", secret)
		cmd.Env = append(append([]string{}, p.n.env...), "CONGTHU_API_CALLBACK_ALLOW=127.0.0.1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("set with the allow list: %v %s", err, out)
		}
		p.n.start(t) // without the allow list
		defer p.n.stop(t)
		post(p, "evt-cb-2")
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(p.n.logs.String(), "callback failed") {
			if time.Now().After(deadline) {
				t.Fatalf("no failed callback attempt logged\n%s", p.n.logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := received.Load(); n != 0 {
			t.Errorf("the receiver on loopback got %d callbacks; want 0 without CONGTHU_API_CALLBACK_ALLOW", n)
		}
		if !strings.Contains(p.n.logs.String(), "not allowed") {
			t.Errorf("the refusal is not logged\n%s", p.n.logs)
		}
	})
}
