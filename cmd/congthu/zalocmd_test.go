package main

import (
	"strings"
	"testing"

	"congthu/zns/znstest"
)

// TestZaloCLI: "congthu zalo status" and "zalo send" against a ZNS peer:
// the first send refreshes the configured token and stores the pair, a
// refused access token is refreshed once, Zalo's errors say what they
// mean.
func TestZaloCLI(t *testing.T) {
	z := znstest.New(znstest.Options{AppID: "app-1", AppSecret: "s3cret", OASecret: "oa", RefreshToken: "r0"})
	t.Cleanup(z.Close)
	env := map[string]string{"CONGTHU_DATA_DIR": t.TempDir()}
	if code, _, errs := runCLI(t, env, "", "zalo", "status"); code != 1 || !strings.Contains(errs, "zalo is not configured") {
		t.Errorf("unconfigured: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runCLI(t, env, "", "domain", "add", "hanoi.gov.vn"); code != 0 {
		t.Fatalf("domain add: %q", errs)
	}
	for k, v := range map[string]string{"CONGTHU_ZNS_API_URL": z.URL(), "CONGTHU_ZNS_OAUTH_URL": z.URL(), "CONGTHU_ZNS_APP_ID": "app-1",
		"CONGTHU_ZNS_APP_SECRET": "s3cret", "CONGTHU_ZNS_REFRESH_TOKEN": "r0", "CONGTHU_ZNS_OA_SECRET": "oa"} {
		env[k] = v
	}
	if code, out, errs := runCLI(t, env, "", "zalo", "status"); code != 0 || !strings.Contains(out, "no token stored yet") {
		t.Errorf("status before a refresh: exit %d, %q %q", code, out, errs)
	}
	data := `{"customer_name":"Nguyễn Văn An","dossier_code":"HS-1"}`
	code, out, errs := runCLI(t, env, data, "zalo", "send", "--to", "0912 345 678", "--template", "tpl-1", "--data", "-")
	if code != 0 || !strings.Contains(out, "sent to +8491*****78: msg_id ") || !strings.Contains(out, "quota: 999 of 1000 left today") {
		t.Fatalf("send: exit %d, %q %q", code, out, errs)
	}
	sent := z.Sent()
	if len(sent) != 1 || sent[0].Phone != "84912345678" || sent[0].TemplateID != "tpl-1" || sent[0].Data["customer_name"] != "Nguyễn Văn An" {
		t.Errorf("sent %+v", sent)
	}
	if code, out, _ := runCLI(t, env, "", "zalo", "status"); code != 0 || !strings.Contains(out, "refreshed") || !strings.Contains(out, "(valid)") {
		t.Errorf("status after a refresh: exit %d, %q", code, out)
	}
	// The access token refused: refreshed once with the stored (rotated)
	// refresh token, not the configured one, which is spent.
	z.ExpireAccess()
	if code, out, errs := runCLI(t, env, data, "zalo", "send", "--to", "+84912345678", "--template", "tpl-1", "--data", "-"); code != 0 {
		t.Fatalf("send after expiry: exit %d, %q %q", code, out, errs)
	}
	if ok, refused := z.Refreshes(); ok != 2 || refused != 0 {
		t.Errorf("refreshes: %d ok, %d refused; want 2, 0", ok, refused)
	}
	z.Fail("+84900000003", -118)
	if code, _, errs := runCLI(t, env, data, "zalo", "send", "--to", "0900000003", "--template", "tpl-1", "--data", "-"); code != 1 || !strings.Contains(errs, "error -118") || !strings.Contains(errs, "not on Zalo") {
		t.Errorf("a number not on Zalo: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runCLI(t, env, "[1,2]", "zalo", "send", "--to", "0912345678", "--template", "tpl-1", "--data", "-"); code != 2 || !strings.Contains(errs, "JSON object") {
		t.Errorf("bad data: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runCLI(t, env, data, "zalo", "send", "--to", "024 3825 3536", "--template", "tpl-1", "--data", "-"); code != 2 || !strings.Contains(errs, "not a mobile number") {
		t.Errorf("a landline: exit %d, stderr %q", code, errs)
	}
}
