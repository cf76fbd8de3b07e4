package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"congthu/sms/smpp/smpptest"
)

// runSMS runs "congthu sms ARGS..." (the command is registered by main's
// command list separately, so dispatch it directly).
func runSMS(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	err := dispatch(context.Background(), c, []*command{smsCommand()}, append([]string{"sms"}, args...), "congthu")
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		code = 2
		errb.WriteString(err.Error())
	default:
		code = 1
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

func TestSMSParts(t *testing.T) {
	long := strings.Repeat("Hồ sơ của ông/bà đã được tiếp nhận. ", 4) // 144 UTF-16 units
	tests := []struct {
		name     string
		args     []string
		code     int
		encoding string
		parts    string
		folded   string
	}{
		{"diacritics need UCS-2", []string{"Hồ sơ của ông/bà đã được tiếp nhận"}, 0, "UCS-2", "1", ""},
		{"folded fits GSM-7", []string{"--fold", "Hồ sơ của ông/bà đã được tiếp nhận"}, 0, "GSM-7", "1", "Ho so cua ong/ba da duoc tiep nhan"},
		{"arguments are joined", []string{"Ho", "so", "000.12"}, 0, "GSM-7", "1", ""},
		{"long UCS-2 text", []string{long}, 0, "UCS-2", "3", ""},
		{"long folded text", []string{"--fold", long}, 0, "GSM-7", "1", ""},
		{"long GSM-7 text", []string{strings.Repeat("a", 161)}, 0, "GSM-7", "2", ""},
		{"over the limit", []string{strings.Repeat("ă", 300)}, 1, "UCS-2", "5", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runSMS(t, nil, append([]string{"parts"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out, errs)
			}
			fields := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				k, v, _ := strings.Cut(l, " ")
				fields[k] = strings.TrimSpace(v)
			}
			if fields["encoding"] != tt.encoding || fields["parts"] != tt.parts {
				t.Errorf("got encoding %q parts %q, want %q %q\n%s", fields["encoding"], fields["parts"], tt.encoding, tt.parts, out)
			}
			if tt.folded != "" && fields["folded"] != tt.folded {
				t.Errorf("folded: got %q, want %q", fields["folded"], tt.folded)
			}
		})
	}
	if code, _, _ := runSMS(t, nil, "parts"); code != 2 {
		t.Errorf("no TEXT: exit %d, want 2", code)
	}
	for _, args := range [][]string{{"--help"}, {"parts", "--help"}, {"send", "--help"}} {
		if code, out, errs := runSMS(t, nil, args...); code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("sms %v: exit %d, %q %q", args, code, out, errs)
		}
	}
	if _, out, _ := runSMS(t, nil, "send", "--help"); !strings.Contains(out, "CONGTHU_SMPP_ADDR") || !strings.Contains(out, "CONGTHU_SMS_SENDER") {
		t.Errorf("send --help does not name the environment:\n%s", out)
	}
}

func TestSMSSend(t *testing.T) {
	smsc := smpptest.Start(t, "--dlr", "delivered")
	addr, smscLog := smsc.Addr, smsc.Log
	env := map[string]string{
		"CONGTHU_SMPP_ADDR": addr, "CONGTHU_SMPP_SYSTEM_ID": "congthu", "CONGTHU_SMPP_PASSWORD": "secret",
		"CONGTHU_SMPP_SYSTEM_TYPE": "VMA", "CONGTHU_SMS_SENDER": "UBND-HN",
	}
	code, out, errs := runSMS(t, env, "send", "--to", "0912 345 678", "--text", "Hồ sơ của ông/bà đã được tiếp nhận", "--fold", "--wait", "10s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nSMSC:\n%s", code, out, errs, smscLog())
	}
	m := regexp.MustCompile(`message id \(part 1\): (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(smscLog(), "ACK conn=1 seq=") || !strings.Contains(smscLog(), " id="+m[1]+" ") {
		t.Fatalf("no message id matching the SMSC's in:\n%s\nSMSC:\n%s", out, smscLog())
	}
	if !strings.Contains(out, "GSM-7, 1 part(s)") || !strings.Contains(out, "status: delivered") {
		t.Errorf("output lacks the encoding or the delivered status:\n%s", out)
	}
	if strings.Contains(out+errs, "912345678") {
		t.Errorf("the full number is shown:\n%s%s", out, errs)
	}
	if !strings.Contains(smscLog(), "system_type=VMA") || !strings.Contains(smscLog(), "src=UBND-HN") {
		t.Errorf("SMSC did not see the configured account and sender:\n%s", smscLog())
	}

	// --smpp-addr overrides the environment; a receipt saying undeliverable
	// is reported and fails the command.
	bad := smpptest.Start(t, "--dlr", "undeliverable").Addr
	code, out, _ = runSMS(t, env, "send", "--smpp-addr", bad, "--to", "+84912345678", "--text", "Ho so", "--wait", "10s")
	if code != 1 || !strings.Contains(out, "status: permanent-failure") {
		t.Errorf("undeliverable: exit %d, want 1 with permanent-failure:\n%s", code, out)
	}

	// Usage and configuration mistakes.
	for _, tt := range []struct {
		env  map[string]string
		args []string
		code int
		want string
	}{
		{env, []string{"send", "--text", "x"}, 2, "--to and --text"},
		{env, []string{"send", "--to", "02438221234", "--text", "x"}, 1, "not a mobile number"},
		{map[string]string{}, []string{"send", "--to", "0912345678", "--text", "x"}, 1, "CONGTHU_SMPP_ADDR"},
	} {
		code, _, errs := runSMS(t, tt.env, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d stderr %q, want %d containing %q", tt.args, code, errs, tt.code, tt.want)
		}
	}
}
