package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"congthu/notify/notifydb"
)

// TestSendTest sends a test event to a real HTTP receiver through the
// guarded client and checks the receiver can verify it, and that a
// refusing receiver and a refused address come back as errors.
func TestSendTest(t *testing.T) {
	const secret = "khóa ký đủ dài 0123456789"
	now := time.Now()
	var got Payload
	var verifyErr error
	status := http.StatusNoContent
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verifyErr = Verify(secret, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute)
		json.Unmarshal(body, &got)
		w.WriteHeader(status)
	}))
	defer rcv.Close()
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	svc := &notifydb.APIService{Name: "motcua", CallbackURL: rcv.URL + "/cb", CallbackSecret: secret}
	code, err := SendTest(context.Background(), NewClient(5*time.Second, allow), svc, now)
	if err != nil || code != http.StatusNoContent {
		t.Fatalf("SendTest = %d, %v; want 204, nil", code, err)
	}
	if verifyErr != nil {
		t.Errorf("receiver's Verify: %v", verifyErr)
	}
	if got.Status != TestStatus || !got.Test || got.Cursor != 0 || got.ID != "" || got.StatusAt.Unix() != now.Unix() {
		t.Errorf("payload %+v", got)
	}

	status = http.StatusServiceUnavailable
	if code, err := SendTest(context.Background(), NewClient(5*time.Second, allow), svc, now); err == nil || code != 503 {
		t.Errorf("refusing receiver: %d, %v; want 503 and an error", code, err)
	}
	// Without the allow list the loopback receiver is refused before
	// anything is sent.
	if code, err := SendTest(context.Background(), NewClient(5*time.Second, nil), svc, now); err == nil || code != 0 {
		t.Errorf("loopback not allowed: %d, %v; want 0 and an error", code, err)
	}
	if _, err := SendTest(context.Background(), NewClient(5*time.Second, allow), &notifydb.APIService{Name: "x"}, now); err == nil {
		t.Error("no callback URL: no error")
	}
}
