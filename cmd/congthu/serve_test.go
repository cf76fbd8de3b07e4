package main

import (
	"net/netip"
	"reflect"
	"testing"

	"congthu/config"
)

// The [mx] settings reach the MX server's options.
func TestMXOptions(t *testing.T) {
	cfg := config.Default()
	o := mxOptions(cfg, nil)
	if o.MaxConnections != 1000 || o.MaxConnectionsPerIP != 20 || o.MaxMessagesPerIPPerMinute != 120 ||
		o.LimitExempt != nil || o.NoDMARCReject || o.QuarantineToInbox || o.AllowLocalSpoofing {
		t.Errorf("defaults: got %+v", o)
	}

	cfg.MX = config.MX{
		MaxConnections:            300,
		MaxConnectionsPerIP:       -1,
		MaxMessagesPerIPPerMinute: 30,
		LimitExempt:               config.StringList{"192.0.2.0/24"},
		DMARCReject:               config.DMARCQuarantine,
		DMARCQuarantine:           config.DMARCInbox,
		AllowLocalSpoofing:        true,
	}
	o = mxOptions(cfg, nil)
	if o.MaxConnections != 300 || o.MaxConnectionsPerIP != -1 || o.MaxMessagesPerIPPerMinute != 30 || !o.NoDMARCReject || !o.QuarantineToInbox || !o.AllowLocalSpoofing {
		t.Errorf("configured: got %+v", o)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}; !reflect.DeepEqual(o.LimitExempt, want) {
		t.Errorf("LimitExempt: got %v, want %v", o.LimitExempt, want)
	}
	if o.MaxMessageBytes != cfg.SMTP.MaxMessageBytes || o.MaxRecipients != cfg.SMTP.MaxRecipients {
		t.Errorf("smtp limits: got %d bytes %d recipients", o.MaxMessageBytes, o.MaxRecipients)
	}
}
