package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// The documented example must say exactly what the defaults are.
func TestExampleIsDefault(t *testing.T) {
	c, err := Load("example.toml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(c, want) {
		t.Errorf("example.toml differs from Default():\ngot  %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("default config does not validate: %v", err)
	}
}

// Every env tag is documented in example.toml.
func TestEveryEnvDocumented(t *testing.T) {
	b, err := os.ReadFile("example.toml")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)) {
				walk(f.Type)
				continue
			}
			if e := f.Tag.Get("env"); e != "" && !strings.Contains(string(b), e) {
				t.Errorf("%s is not documented in example.toml", e)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
}

func TestEnvOverridesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.toml")
	os.WriteFile(p, []byte("hostname = \"file.example\"\n[listen]\nimap = \"127.0.0.1:1400\"\n[smtp]\ndata_timeout = \"2m\"\n"), 0o600)
	c, err := Load(p, env(map[string]string{
		"CONGTHU_HOSTNAME":                 "mail.hanoi.gov.vn",
		"CONGTHU_SUBMISSION_ADDR":          "off",
		"CONGTHU_DATABASE_URL":             "postgres://u:p@db/congthu",
		"CONGTHU_SMTP_MAX_RECIPIENTS":      "7",
		"CONGTHU_SMTP_ALLOW_INSECURE_AUTH": "true",
		"CONGTHU_AUTH_LOCKOUT":             "1h",
		"CONGTHU_RETRY_SCHEDULE":           "1m, 5m,15m,1h,4h",
		"CONGTHU_REQUIRE_TLS_DOMAINS":      "bocongan.gov.vn, hcm.gov.vn",
		"CONGTHU_MTA_STS":                  "false",
		"CONGTHU_MX_MTA_STS_MODE":          "enforce",
		"CONGTHU_MX_MTA_STS_MX":            "MX1.Hanoi.gov.vn., *.mx.hanoi.gov.vn",
		"CONGTHU_SMARTHOST":                "relay.hanoi.gov.vn:587",
		"CONGTHU_MAX_QUEUE_AGE":            "72h",
		"CONGTHU_SMS_QUIET_HOURS":          "off",
		"CONGTHU_SMPP_ADDR":                "127.0.0.1:2775",
		"CONGTHU_SMPP_SYSTEM_ID":           "ubndhn",
		"CONGTHU_SMS_SENDER":               "UBND-HN",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"hostname", c.Hostname, "mail.hanoi.gov.vn"},
		{"imap from file", c.Listen.IMAP, "127.0.0.1:1400"},
		{"submission off", c.Listen.Submission, "off"},
		{"data timeout from file", c.SMTP.DataTimeout.D(), 2 * time.Minute},
		{"database", c.DatabaseURL, "postgres://u:p@db/congthu"},
		{"recipients", c.SMTP.MaxRecipients, 7},
		{"insecure auth", c.SMTP.AllowInsecureAuth, true},
		{"lockout", c.Auth.Lockout.D(), time.Hour},
		{"default kept", c.Listen.IMAPS, ":1993"},
		{"retry schedule", c.Delivery.RetrySchedule.Durations(), []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 4 * time.Hour}},
		{"require tls", []string(c.Delivery.RequireTLS), []string{"bocongan.gov.vn", "hcm.gov.vn"}},
		{"mta-sts off", c.Delivery.MTASTS, false},
		{"published mta-sts policy", c.MTASTSPolicy(), "version: STSv1\r\nmode: enforce\r\nmx: mx1.hanoi.gov.vn\r\nmx: *.mx.hanoi.gov.vn\r\nmax_age: 604800\r\n"},
		{"smarthost", c.Delivery.Smarthost, "relay.hanoi.gov.vn:587"},
		{"max queue age", c.Delivery.MaxQueueAge.D(), 72 * time.Hour},
		{"quiet hours", c.SMS.QuietHours, "off"},
		{"smpp", c.SMS.SMPPAddr + " " + c.SMS.SMPPSystemID + " " + c.SMS.Sender, "127.0.0.1:2775 ubndhn UBND-HN"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	if Enabled(c.Listen.Submission) || !Enabled(c.Listen.IMAP) {
		t.Errorf("Enabled: submission %v imap %v", Enabled(c.Listen.Submission), Enabled(c.Listen.IMAP))
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.toml")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	tests := []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"unknown key", "hostnme = \"x\"\n", nil, "unknown setting(s): hostnme"},
		{"bad toml", "hostname = \n", nil, "config file"},
		{"bad env int", "", map[string]string{"CONGTHU_SMTP_MAX_RECIPIENTS": "many"}, "CONGTHU_SMTP_MAX_RECIPIENTS=\"many\": not an integer"},
		{"bad env duration", "", map[string]string{"CONGTHU_AUTH_LOCKOUT": "15"}, "CONGTHU_AUTH_LOCKOUT=\"15\": not a duration"},
		{"bad env bool", "", map[string]string{"CONGTHU_SMTP_ALLOW_INSECURE_AUTH": "yes please"}, "not a boolean"},
		{"bad retry schedule", "", map[string]string{"CONGTHU_RETRY_SCHEDULE": "1m,soon"}, "CONGTHU_RETRY_SCHEDULE"},
		{"bad mx toml type", "[mx]\nmax_connections_per_ip = \"many\"\n", nil, "max_connections_per_ip"},
		{"unknown mx key", "[mx]\ndmarc = \"reject\"\n", nil, "unknown setting(s): mx.dmarc"},
		{"bad mx env int", "", map[string]string{"CONGTHU_MX_MAX_CONNECTIONS_PER_IP": "unlimited"}, "CONGTHU_MX_MAX_CONNECTIONS_PER_IP=\"unlimited\": not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(tt.file), env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.toml"), env(nil)); err == nil {
		t.Error("missing file: got no error")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"bad addr", func(c *Config) { c.Listen.IMAP = "1143" }, "listen.imap (CONGTHU_IMAP_ADDR): \"1143\" is not host:port"},
		{"bad port", func(c *Config) { c.Listen.MX = ":99999" }, "listen.mx (CONGTHU_MX_ADDR)"},
		{"dup port", func(c *Config) { c.Listen.IMAPS = ":1143" }, "port 1143 is already used by listen.imap"},
		{"db scheme", func(c *Config) { c.DatabaseURL = "mysql://u:secret@x/db" }, "database_url (CONGTHU_DATABASE_URL)"},
		{"redis scheme", func(c *Config) { c.RedisURL = "http://x" }, "redis_url (CONGTHU_REDIS_URL)"},
		{"half tls", func(c *Config) { c.TLS.Cert = "/x.pem" }, "set both the certificate and the key"},
		{"missing tls files", func(c *Config) { c.TLS.Cert, c.TLS.Key = "/nonexistent/c.pem", "/nonexistent/k.pem" }, "cannot load the key pair"},
		{"zero size", func(c *Config) { c.SMTP.MaxMessageBytes = 0 }, "smtp.max_message_bytes (CONGTHU_SMTP_MAX_MESSAGE_BYTES): must be greater than zero"},
		{"short idle", func(c *Config) { c.IMAP.IdleTimeout = Duration(time.Minute) }, "RFC 9051"},
		{"hostname", func(c *Config) { c.Hostname = "" }, "hostname (CONGTHU_HOSTNAME)"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"smarthost", func(c *Config) { c.Delivery.Smarthost = "relay" }, "delivery.smarthost (CONGTHU_SMARTHOST)"},
		{"resolver", func(c *Config) { c.Delivery.DNSResolver = "dns.example:53" }, "delivery.dns_resolver (CONGTHU_DNS_RESOLVER)"},
		{"empty schedule", func(c *Config) { c.Delivery.RetrySchedule = nil }, "delivery.retry_schedule"},
		{"half smarthost auth", func(c *Config) { c.Delivery.SmarthostUsername = "u" }, "set both or neither"},
		{"quiet hours", func(c *Config) { c.SMS.QuietHours = "9pm-7am" }, "sms.quiet_hours (CONGTHU_SMS_QUIET_HOURS)"},
		{"smpp addr", func(c *Config) { c.SMS.SMPPAddr = "smsc"; c.SMS.Sender = "UBND-HN" }, "sms.smpp_addr (CONGTHU_SMPP_ADDR)"},
		{"smpp system id", func(c *Config) { c.SMS.SMPPAddr = "smsc:2775"; c.SMS.Sender = "UBND-HN" }, "sms.smpp_system_id"},
		{"sms sender", func(c *Config) { c.SMS.HTTPURL = "https://sms.example/send" }, "sms.sender (CONGTHU_SMS_SENDER)"},
		{"sms primary", func(c *Config) { c.SMS.Primary = "pigeon" }, "sms.primary"},
		{"api rate", func(c *Config) { c.API.RateLimit = 0 }, "api.rate_limit"},
		{"short idempotency retention", func(c *Config) { c.API.IdempotencyRetention = Duration(time.Hour) }, "api.idempotency_retention (CONGTHU_API_IDEMPOTENCY_RETENTION): 1h0m0s: want 0"},
		{"negative idempotency retention", func(c *Config) { c.API.IdempotencyRetention = Duration(-time.Hour) }, "api.idempotency_retention"},
		{"callback allow", func(c *Config) { c.API.CallbackAllow = StringList{"10.0.0.0/8", "backoffice.local"} }, "api.callback_allow (CONGTHU_API_CALLBACK_ALLOW): \"backoffice.local\" is not a CIDR prefix"},
		{"mx connections", func(c *Config) { c.MX.MaxConnections = -1 }, "mx.max_connections (CONGTHU_MX_MAX_CONNECTIONS): must be greater than zero"},
		{"mx per ip zero", func(c *Config) { c.MX.MaxConnectionsPerIP = 0 }, "mx.max_connections_per_ip (CONGTHU_MX_MAX_CONNECTIONS_PER_IP): must not be zero"},
		{"mx rate zero", func(c *Config) { c.MX.MaxMessagesPerIPPerMinute = 0 }, "mx.max_messages_per_ip_per_minute (CONGTHU_MX_MAX_MESSAGES_PER_IP_PER_MINUTE): must not be zero"},
		{"mx exempt cidr", func(c *Config) { c.MX.LimitExempt = StringList{"10.0.0.0/8", "10.1.0.0/33"} }, "mx.limit_exempt (CONGTHU_MX_LIMIT_EXEMPT): \"10.1.0.0/33\" is not a CIDR prefix"},
		{"mx exempt name", func(c *Config) { c.MX.LimitExempt = StringList{"relay.hanoi.gov.vn"} }, "mx.limit_exempt (CONGTHU_MX_LIMIT_EXEMPT)"},
		{"mx dmarc reject", func(c *Config) { c.MX.DMARCReject = "junk" }, "mx.dmarc_reject (CONGTHU_MX_DMARC_REJECT): \"junk\": want reject or quarantine"},
		{"mx dmarc quarantine", func(c *Config) { c.MX.DMARCQuarantine = "Inbox" }, "mx.dmarc_quarantine (CONGTHU_MX_DMARC_QUARANTINE): \"Inbox\": want junk or inbox"},
		{"mta-sts mode", func(c *Config) { c.MX.MTASTSMode = "strict" }, "mx.mta_sts_mode (CONGTHU_MX_MTA_STS_MODE): \"strict\": want off, testing, enforce or none"},
		{"mta-sts mx", func(c *Config) { c.MX.MTASTSMode, c.MX.MTASTSMX = "enforce", StringList{"mail_1.hanoi.gov.vn"} }, "mx.mta_sts_mx (CONGTHU_MX_MTA_STS_MX)"},
		{"mta-sts single-label host", func(c *Config) { c.Hostname, c.MX.MTASTSMode = "localhost", "testing" }, "mx.mta_sts_mx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mod(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// Passwords in URLs never appear in errors.
	c := Default()
	c.DatabaseURL = "mysql://u:secret@x/db"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks the password: %v", err)
	}
	// Several problems are all reported.
	c = Default()
	c.Listen.IMAP, c.SMTP.MaxRecipients = "bad", 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "listen.imap") || !strings.Contains(err.Error(), "smtp.max_recipients") {
		t.Errorf("want both problems, got %v", err)
	}
}

// The [mx] section: the file, then the environment over it, and the
// exempt networks as prefixes.
func TestMXSettings(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte(`[mx]
max_connections = 300
max_connections_per_ip = -1
limit_exempt = "192.0.2.0/24, 2001:db8::/32"
dmarc_reject = "quarantine"
`), 0o600)
	c, err := Load(p, env(map[string]string{
		"CONGTHU_MX_MAX_MESSAGES_PER_IP_PER_MINUTE": "-5",
		"CONGTHU_MX_DMARC_QUARANTINE":               "inbox",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	want := MX{
		MaxConnections:            300,
		MaxConnectionsPerIP:       -1,
		MaxMessagesPerIPPerMinute: -5,
		LimitExempt:               StringList{"192.0.2.0/24", "2001:db8::/32"},
		DMARCReject:               DMARCQuarantine,
		DMARCQuarantine:           DMARCInbox,
		MTASTSMode:                Off,
	}
	if !reflect.DeepEqual(c.MX, want) {
		t.Errorf("got %+v, want %+v", c.MX, want)
	}

	c, err = Load(p, env(map[string]string{
		"CONGTHU_MX_MAX_CONNECTIONS":        "50",
		"CONGTHU_MX_MAX_CONNECTIONS_PER_IP": "4",
		"CONGTHU_MX_LIMIT_EXEMPT":           "10.1.2.3/8,198.51.100.7, ::1",
		"CONGTHU_MX_DMARC_REJECT":           "reject",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if c.MX.MaxConnections != 50 || c.MX.MaxConnectionsPerIP != 4 || c.MX.DMARCReject != DMARCReject || c.MX.DMARCQuarantine != DMARCJunk {
		t.Errorf("env over file: got %+v", c.MX)
	}
	got := c.MX.LimitExemptPrefixes()
	wantP := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("::1/128")}
	if !reflect.DeepEqual(got, wantP) {
		t.Errorf("prefixes: got %v, want %v", got, wantP)
	}
	if got := Default().MX.LimitExemptPrefixes(); got != nil {
		t.Errorf("default prefixes: got %v, want none", got)
	}
}
