// Package config is congthu's typed configuration: one TOML file whose
// defaults are the embedded single-machine setup, overridden by CONGTHU_*
// environment variables, validated before anything starts.
//
// The file named by CONGTHU_CONFIG (or --config) is optional; every setting
// has a default. Each field's `env` tag names the environment variable that
// overrides it. config/example.toml documents every field and is checked by
// the tests against Default.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"congthu/mtasts"
)

// Off disables a listener when given as its address.
const Off = "off"

// Config is the whole configuration.
type Config struct {
	// Hostname is the server's public name: SMTP greeting, Received:
	// headers, Message-ID, the self-signed certificate.
	Hostname string `toml:"hostname" env:"CONGTHU_HOSTNAME"`
	// DataDir holds the SQLite database (congthu.db), the generated
	// certificate and other local state.
	DataDir string `toml:"data_dir" env:"CONGTHU_DATA_DIR"`
	// DatabaseURL selects the store: empty for SQLite in DataDir,
	// postgres://... for PostgreSQL (needed when several nodes share one
	// store).
	DatabaseURL string `toml:"database_url" env:"CONGTHU_DATABASE_URL"`
	// RedisURL is the Redis used for queues and IMAP change notification
	// across nodes (redis://[user:pass@]host:port/db). Empty: none, a
	// single node with in-process notification only, and no outbound
	// delivery, API or callbacks (remote mail waits in the outbox).
	RedisURL string `toml:"redis_url" env:"CONGTHU_REDIS_URL"`

	Listen   Listen   `toml:"listen"`
	TLS      TLS      `toml:"tls"`
	SMTP     SMTP     `toml:"smtp"`
	MX       MX       `toml:"mx"`
	IMAP     IMAP     `toml:"imap"`
	Auth     Auth     `toml:"auth"`
	Delivery Delivery `toml:"delivery"`
	API      API      `toml:"api"`
	Admin    Admin    `toml:"admin"`
	SMS      SMS      `toml:"sms"`
	Log      Log      `toml:"log"`
	Limits   Limits   `toml:"limits"`
	Mailbox  Mailbox  `toml:"mailbox"`
	Filter   Filter   `toml:"filter"`
	Zalo     Zalo     `toml:"zalo"`
}

// Zalo configures the Zalo Notification Service (ZNS) account: the app,
// its secrets and the Official Account's first refresh token. With
// app_id set, serve offers the zalo channel and receives Zalo's events at
// POST /v1/zalo/events.
type Zalo struct {
	// APIURL is the ZNS API.
	APIURL string `toml:"api_url" env:"CONGTHU_ZNS_API_URL"`
	// OAuthURL is Zalo's OAuth server (token refresh).
	OAuthURL string `toml:"oauth_url" env:"CONGTHU_ZNS_OAUTH_URL"`
	// AppID is the Zalo app; empty: Zalo is off.
	AppID string `toml:"app_id" env:"CONGTHU_ZNS_APP_ID"`
	// AppSecret is the app's secret key (sent with refreshes).
	AppSecret string `toml:"app_secret" env:"CONGTHU_ZNS_APP_SECRET"`
	// RefreshToken is the refresh token an operator got when authorising
	// the app; used only while the store holds none (each refresh
	// replaces it there).
	RefreshToken string `toml:"refresh_token" env:"CONGTHU_ZNS_REFRESH_TOKEN"`
	// OASecret is the Official Account's secret key, which signs the
	// webhook's events.
	OASecret string `toml:"oa_secret" env:"CONGTHU_ZNS_OA_SECRET"`
	// ReceiptTimeout is how long after Zalo accepted a message the SMS
	// fallback waits for Zalo's receipt (also how long Zalo may stay
	// unreachable before the fallback goes); 1m to 24h.
	ReceiptTimeout Duration `toml:"receipt_timeout" env:"CONGTHU_ZNS_RECEIPT_TIMEOUT"`
	// PriceVND is what one ZNS message costs, in đồng, recorded on each
	// when Zalo accepts it (usage reports add them up).
	PriceVND int64 `toml:"price_vnd" env:"CONGTHU_PRICE_ZNS_VND"`
}

// Filter configures the MX's content filters: rspamd (spam) and ClamAV's
// clamd (malware), both off until an address is set.
type Filter struct {
	// RspamdURL is rspamd's worker or controller, e.g.
	// http://127.0.0.1:11333; empty: no spam check.
	RspamdURL string `toml:"rspamd_url" env:"CONGTHU_RSPAMD_URL"`
	// RspamdPassword is the controller's password, when RspamdURL is
	// the controller and does not trust this host.
	RspamdPassword string `toml:"rspamd_password" env:"CONGTHU_RSPAMD_PASSWORD"`
	// ClamdAddr is clamd's "host:port" or "unix:/path"; empty: no
	// malware scan.
	ClamdAddr string `toml:"clamd_addr" env:"CONGTHU_CLAMD_ADDR"`
	// SpamAddHeader is where a message rspamd scores "add header" or
	// "rewrite subject" goes: "junk" (Junk, flagged $Junk) or "inbox"
	// (INBOX, with X-Spam-Status: Yes).
	SpamAddHeader string `toml:"spam_action_add_header" env:"CONGTHU_SPAM_ACTION_ADD_HEADER"`
	// Failure is what happens when a filter fails or does not answer in
	// Timeout: "tempfail" (451 4.7.1, the sender retries) or "accept"
	// (delivered with an X-Congthu-Scan field saying it was not scanned).
	Failure string `toml:"failure" env:"CONGTHU_FILTER_FAILURE"`
	// Timeout bounds each filter's answer.
	Timeout Duration `toml:"timeout" env:"CONGTHU_FILTER_TIMEOUT"`
}

// Mailbox holds what every account's mailboxes may hold.
type Mailbox struct {
	// Quota is the storage quota of an account that has none of its own
	// (`congthu user quota`): the most its messages may take, counted
	// as the sum of their sizes, a copy counting again; "2G", "500M",
	// or none (0) for unlimited. A message that does not fit is refused:
	// IMAP APPEND and COPY answer NO [OVERQUOTA], SMTP 452 4.2.2.
	Quota Size `toml:"quota" env:"CONGTHU_MAILBOX_QUOTA"`
}

// Admin configures the operator console: web pages for the agency's IT
// staff (accounts, queues, API keys, templates, domains) and for the
// one-stop-shop desk (looking a dossier's notifications up and sending
// them again). Accounts sign in with their mail password once given a
// role (`congthu user role`).
type Admin struct {
	// Addr is the console's listener, host:port or "off". It serves
	// HTTPS with the configured certificate (tls.cert) when one is set,
	// plain HTTP otherwise: keep it on loopback or a management network
	// then.
	Addr string `toml:"addr" env:"CONGTHU_ADMIN_ADDR"`
	// RequireTOTP refuses console sign-in to admin accounts without a
	// TOTP second factor (`congthu user totp`).
	RequireTOTP bool `toml:"require_totp" env:"CONGTHU_ADMIN_REQUIRE_TOTP"`
	// IdleTimeout ends a console session unused for that long.
	IdleTimeout Duration `toml:"idle_timeout" env:"CONGTHU_ADMIN_IDLE_TIMEOUT"`
}

// API configures the REST API for back-office systems.
type API struct {
	// RateLimit is how many notifications one API key may create per
	// minute (a token bucket in Redis).
	RateLimit int `toml:"rate_limit" env:"CONGTHU_API_RATE_LIMIT"`
	// SenderDomain is the domain of notification mail's default From
	// (noreply@...) and return path (bounce+<id>@...). Empty: the first
	// served domain. It must be served here and have a DKIM key
	// (checked by serve and checkconfig when the API is on).
	SenderDomain string `toml:"sender_domain" env:"CONGTHU_API_SENDER_DOMAIN"`
	// IdempotencyRetention is how long a request's idempotency record
	// (the dossier event_id or Idempotency-Key, with the first response)
	// is kept; a replay after it is a new request. 0: for ever; otherwise
	// at least 24h. Older records are purged every minute, oldest first.
	IdempotencyRetention Duration `toml:"idempotency_retention" env:"CONGTHU_API_IDEMPOTENCY_RETENTION"`
	// CallbackAllow lists networks (CIDR prefixes, or single addresses)
	// status callbacks may reach besides public addresses, such as a
	// back office inside the agency's network. Empty: callbacks go to
	// public addresses only (never loopback, link-local, private,
	// multicast or other special-purpose addresses).
	CallbackAllow StringList `toml:"callback_allow" env:"CONGTHU_API_CALLBACK_ALLOW"`
	// DefaultChannels are the channels of a dossier event that names
	// none, in order (phone channels after the first are its fallbacks:
	// see the API reference). Empty: email,zalo,sms when Zalo is
	// configured, else email,sms.
	DefaultChannels StringList `toml:"default_channels" env:"CONGTHU_DEFAULT_CHANNELS"`
	// ReminderLead is how long before a dossier's appointment its
	// reminder is sent (events received with appointment_at, delayed
	// with new_appointment_at); 0 turns reminders off.
	ReminderLead Duration `toml:"reminder_lead" env:"CONGTHU_REMINDER_LEAD"`
	// ReminderMinNotice: no reminder is scheduled when its time would be
	// less than this away.
	ReminderMinNotice Duration `toml:"reminder_min_notice" env:"CONGTHU_REMINDER_MIN_NOTICE"`
}

// Channels returns DefaultChannels, or the default for the configuration.
func (c *Config) Channels() []string {
	if len(c.API.DefaultChannels) > 0 {
		return c.API.DefaultChannels
	}
	if c.Zalo.AppID != "" {
		return []string{"email", "zalo", "sms"}
	}
	return []string{"email", "sms"}
}

// CallbackAllowPrefixes returns CallbackAllow parsed, a single address as
// a one-address prefix. Call it on a validated configuration: entries
// that do not parse are left out.
func (a API) CallbackAllowPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range a.CallbackAllow {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// SMS configures the SMS channel: an SMPP 3.4 SMSC and/or an HTTP
// brandname API, and the sending policy.
type SMS struct {
	// SMPPAddr, host:port, is the SMSC. Empty: no SMPP provider.
	SMPPAddr string `toml:"smpp_addr" env:"CONGTHU_SMPP_ADDR"`
	// SMPPSystemID is the system_id the bind identifies itself with.
	SMPPSystemID string `toml:"smpp_system_id" env:"CONGTHU_SMPP_SYSTEM_ID"`
	// SMPPPassword is the password of the bind.
	SMPPPassword string `toml:"smpp_password" env:"CONGTHU_SMPP_PASSWORD"`
	// SMPPSystemType is the system_type of the bind, if the SMSC wants one.
	SMPPSystemType string `toml:"smpp_system_type" env:"CONGTHU_SMPP_SYSTEM_TYPE"`
	// SMPPWindow is how many submit_sm may await their response at once.
	SMPPWindow int `toml:"smpp_window" env:"CONGTHU_SMPP_WINDOW"`
	// SMPPRate caps messages (parts) per second on the bind; 0: no cap.
	SMPPRate int `toml:"smpp_rate" env:"CONGTHU_SMPP_RATE"`
	// Sender is the brandname (alphanumeric, e.g. UBND-HN) or number
	// messages are sent from.
	Sender string `toml:"sender" env:"CONGTHU_SMS_SENDER"`
	// HTTPURL is an SMS brandname API taking JSON over HTTPS. Empty: no
	// HTTP provider.
	HTTPURL string `toml:"http_url" env:"CONGTHU_SMS_HTTP_URL"`
	// HTTPAuthHeader is sent with each request, "Name: value".
	HTTPAuthHeader string `toml:"http_auth_header" env:"CONGTHU_SMS_HTTP_AUTH_HEADER"`
	// HTTPReceiptSecret authenticates the provider's receipt webhook
	// (POST /v1/sms/receipts, header X-Webhook-Secret).
	HTTPReceiptSecret string `toml:"http_receipt_secret" env:"CONGTHU_SMS_HTTP_RECEIPT_SECRET"`
	// Primary is the preferred provider when both are configured:
	// "smpp" or "http". The other takes over when it keeps failing.
	Primary string `toml:"primary" env:"CONGTHU_SMS_PRIMARY"`
	// QuietHours holds non-urgent SMS until the end of the window, local
	// time (Asia/Ho_Chi_Minh): "21:00-07:00", or "off".
	QuietHours string `toml:"quiet_hours" env:"CONGTHU_SMS_QUIET_HOURS"`
	// MaxParts is the most parts one SMS may have (the API answers 422
	// beyond it).
	MaxParts int `toml:"max_parts" env:"CONGTHU_SMS_MAX_PARTS"`
	// MaxPerHour is the most SMS sent to one number in an hour.
	MaxPerHour int `toml:"max_per_hour" env:"CONGTHU_SMS_MAX_PER_HOUR"`
	// DuplicateWindow: identical text to one number within it is sent once.
	DuplicateWindow Duration `toml:"duplicate_window" env:"CONGTHU_SMS_DUPLICATE_WINDOW"`
	// PriceVND is what one SMS part costs, in đồng, recorded on each SMS
	// (parts × price) when the provider accepts it.
	PriceVND int64 `toml:"price_vnd_per_part" env:"CONGTHU_PRICE_SMS_VND"`
}

// Delivery configures outbound delivery of mail for other domains.
type Delivery struct {
	// Smarthost, host:port, sends all remote mail through one relay, as
	// many government networks require. Empty: deliver to each domain's
	// MX hosts.
	Smarthost string `toml:"smarthost" env:"CONGTHU_SMARTHOST"`
	// SmarthostUsername and SmarthostPassword authenticate to the
	// smarthost (AUTH PLAIN, only over TLS).
	SmarthostUsername string `toml:"smarthost_username" env:"CONGTHU_SMARTHOST_USERNAME"`
	// SmarthostPassword is the password for SmarthostUsername.
	SmarthostPassword string `toml:"smarthost_password" env:"CONGTHU_SMARTHOST_PASSWORD"`
	// DNSResolver, ip:port, is the DNS server for MX, SPF, DKIM and DMARC
	// lookups. Empty: the system's resolver.
	DNSResolver string `toml:"dns_resolver" env:"CONGTHU_DNS_RESOLVER"`
	// RetrySchedule is the delays between attempts after a temporary
	// failure; the last one repeats until MaxQueueAge.
	RetrySchedule DurationList `toml:"retry_schedule" env:"CONGTHU_RETRY_SCHEDULE"`
	// MaxQueueAge is when a message still undelivered is given up and
	// bounced to its sender.
	MaxQueueAge Duration `toml:"max_queue_age" env:"CONGTHU_MAX_QUEUE_AGE"`
	// DelayNotice is when the sender is told "still trying", once.
	DelayNotice Duration `toml:"delay_notice" env:"CONGTHU_DELAY_NOTICE"`
	// RequireTLS lists destination domains that must be reached over
	// TLS: no fallback to plaintext when STARTTLS fails.
	RequireTLS StringList `toml:"require_tls" env:"CONGTHU_REQUIRE_TLS_DOMAINS"`
	// MTASTS applies destination domains' MTA-STS policies (RFC 8461):
	// under "enforce", mail goes only to the MX hosts a policy names,
	// over TLS with a valid certificate. Off: TLS to MX hosts is only
	// opportunistic.
	MTASTS bool `toml:"mta_sts" env:"CONGTHU_MTA_STS"`
	// MaxConnectionsPerDomain caps concurrent connections to one
	// destination domain.
	MaxConnectionsPerDomain int `toml:"max_connections_per_domain" env:"CONGTHU_MAX_CONNECTIONS_PER_DOMAIN"`
	// SmarthostMaxConnections caps concurrent connections to the
	// smarthost, which carries every domain's mail (an SMTP transaction
	// is four round trips: ten connections cap a loaded node at a few
	// hundred messages a second).
	SmarthostMaxConnections int `toml:"smarthost_max_connections" env:"CONGTHU_SMARTHOST_MAX_CONNECTIONS"`
	// Workers is how many deliveries run at once on this node.
	Workers int `toml:"workers" env:"CONGTHU_DELIVERY_WORKERS"`
}

// Listen holds the listener addresses, host:port or "off".
type Listen struct {
	// Submission is SMTP submission with STARTTLS (RFC 6409; 587 in production).
	Submission string `toml:"submission" env:"CONGTHU_SUBMISSION_ADDR"`
	// Submissions is SMTP submission with implicit TLS (RFC 8314; 465).
	Submissions string `toml:"submissions" env:"CONGTHU_SUBMISSIONS_ADDR"`
	// IMAP is IMAP with STARTTLS (143).
	IMAP string `toml:"imap" env:"CONGTHU_IMAP_ADDR"`
	// IMAPS is IMAP with implicit TLS (993).
	IMAPS string `toml:"imaps" env:"CONGTHU_IMAPS_ADDR"`
	// MX receives mail from the internet (25).
	MX string `toml:"mx" env:"CONGTHU_MX_ADDR"`
	// HTTP serves the REST API, health, metrics and the MTA-STS policy.
	// Opened only when RedisURL is set (the API's queues need Redis).
	HTTP string `toml:"http" env:"CONGTHU_HTTP_ADDR"`
}

// TLS names the certificate. With neither set, a self-signed certificate
// for Hostname is generated once into DataDir.
type TLS struct {
	Cert string `toml:"cert" env:"CONGTHU_TLS_CERT"` // PEM certificate chain file
	Key  string `toml:"key" env:"CONGTHU_TLS_KEY"`   // PEM private key file
}

// SMTP holds the limits of SMTP sessions.
type SMTP struct {
	// MaxMessageBytes is the largest message accepted (advertised as SIZE).
	MaxMessageBytes int64 `toml:"max_message_bytes" env:"CONGTHU_SMTP_MAX_MESSAGE_BYTES"`
	// MaxRecipients is the most RCPT TO per message.
	MaxRecipients int `toml:"max_recipients" env:"CONGTHU_SMTP_MAX_RECIPIENTS"`
	// CommandTimeout bounds the wait for each command.
	CommandTimeout Duration `toml:"command_timeout" env:"CONGTHU_SMTP_COMMAND_TIMEOUT"`
	// DataTimeout bounds each pause in the message data, and is the grace
	// before limits.smtp_min_data_rate applies.
	DataTimeout Duration `toml:"data_timeout" env:"CONGTHU_SMTP_DATA_TIMEOUT"`
	// MaxConnections caps concurrent SMTP connections per submission
	// listener (the MX has its own, [MX.MaxConnections]).
	MaxConnections int `toml:"max_connections" env:"CONGTHU_SMTP_MAX_CONNECTIONS"`
	// MaxMessagesPerAccountPerHour caps the messages one account may
	// submit in an hour on one node (past it MAIL gets 451 4.7.1), so
	// that a stolen password cannot send a flood; negative: no cap.
	MaxMessagesPerAccountPerHour int `toml:"max_messages_per_account_per_hour" env:"CONGTHU_SMTP_MAX_MESSAGES_PER_ACCOUNT_PER_HOUR"`
	// AllowInsecureAuth allows AUTH without TLS from loopback clients
	// only, for development. Off by default.
	AllowInsecureAuth bool `toml:"allow_insecure_auth" env:"CONGTHU_SMTP_ALLOW_INSECURE_AUTH"`
}

// DMARC handling choices for MX.DMARCReject and MX.DMARCQuarantine.
const (
	// DMARCReject refuses mail failing a p=reject policy with 550 5.7.1
	// at the end of DATA (RFC 7489 section 6.7).
	DMARCReject = "reject"
	// DMARCQuarantine handles mail failing a p=reject policy as if the
	// policy were p=quarantine.
	DMARCQuarantine = "quarantine"
	// DMARCJunk delivers quarantined mail to the recipient's Junk
	// mailbox, flagged $Junk.
	DMARCJunk = "junk"
	// DMARCInbox delivers quarantined mail to the INBOX, marked by an
	// X-Congthu-Quarantine: header field.
	DMARCInbox = "inbox"
)

// MX holds the connection limits and DMARC handling of the inbound MX.
// Its message size, recipient and timeout limits are those of [SMTP].
type MX struct {
	// MaxConnections caps concurrent connections to the MX listener.
	MaxConnections int `toml:"max_connections" env:"CONGTHU_MX_MAX_CONNECTIONS"`
	// MaxConnectionsPerIP caps concurrent connections from one client
	// address (IPv6 per /64); negative: no cap.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip" env:"CONGTHU_MX_MAX_CONNECTIONS_PER_IP"`
	// MaxMessagesPerIPPerMinute caps mail transactions per client
	// address and minute (past it MAIL gets 451 4.7.1); negative: no cap.
	MaxMessagesPerIPPerMinute int `toml:"max_messages_per_ip_per_minute" env:"CONGTHU_MX_MAX_MESSAGES_PER_IP_PER_MINUTE"`
	// LimitExempt is the older name of Limits.Exempt: its networks are
	// added to that list.
	LimitExempt StringList `toml:"limit_exempt" env:"CONGTHU_MX_LIMIT_EXEMPT"`
	// DMARCReject is what happens to mail failing a DMARC p=reject
	// policy: "reject" (550 at the end of DATA) or "quarantine" (handled
	// as DMARCQuarantine says).
	DMARCReject string `toml:"dmarc_reject" env:"CONGTHU_MX_DMARC_REJECT"`
	// DMARCQuarantine is where mail failing a DMARC p=quarantine policy
	// goes: "junk" (the Junk mailbox) or "inbox" (the INBOX, with an
	// X-Congthu-Quarantine: header field beside Authentication-Results:).
	DMARCQuarantine string `toml:"dmarc_quarantine" env:"CONGTHU_MX_DMARC_QUARANTINE"`
	// AllowLocalSpoofing accepts mail that claims one of our own domains
	// in From: while passing neither SPF nor DKIM (handled then by the
	// domain's published DMARC policy alone). Default false: it is
	// refused like a DMARC reject, since our domains' mail never
	// legitimately enters through the MX unsigned and from elsewhere.
	AllowLocalSpoofing bool `toml:"allow_local_spoofing" env:"CONGTHU_MX_ALLOW_LOCAL_SPOOFING"`
	// MTASTSMode is the MTA-STS policy (RFC 8461) published for our
	// domains: "off" (none served), "testing", "enforce", or "none" (a
	// policy withdrawing an earlier one). The HTTP listener serves it
	// at https://mta-sts.<domain>/.well-known/mta-sts.txt; `congthu
	// domain dns` prints the TXT record to publish.
	MTASTSMode string `toml:"mta_sts_mode" env:"CONGTHU_MX_MTA_STS_MODE"`
	// MTASTSMX lists the MX host names (or "*.domain" patterns) the
	// published policy names. Empty: the host name.
	MTASTSMX StringList `toml:"mta_sts_mx" env:"CONGTHU_MX_MTA_STS_MX"`
}

// MTASTSPolicyMaxAge is the max_age of the published MTA-STS policy: a
// week (RFC 8461 section 3.2 recommends weeks).
const MTASTSPolicyMaxAge = 7 * 24 * 3600

// MTASTSPolicy returns the MTA-STS policy to publish for our domains as it
// is served, "" when MTASTSMode is off.
func (c *Config) MTASTSPolicy() string {
	if c.MX.MTASTSMode == "" || c.MX.MTASTSMode == Off {
		return ""
	}
	mx := []string{c.Hostname}
	if len(c.MX.MTASTSMX) > 0 {
		mx = slices.Clone(c.MX.MTASTSMX)
	}
	for i, m := range mx {
		mx[i] = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(m), "."))
	}
	if c.MX.MTASTSMode == mtasts.None {
		mx = nil
	}
	p := &mtasts.Policy{Mode: c.MX.MTASTSMode, MX: mx, MaxAge: MTASTSPolicyMaxAge}
	return p.String()
}

// LimitExemptPrefixes returns LimitExempt parsed, a single address as a
// one-address prefix. Call it on a validated configuration: entries that
// do not parse are left out.
func (m MX) LimitExemptPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range m.LimitExempt {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parsePrefix parses a CIDR prefix ("192.0.2.0/24", "2001:db8::/32") or a
// single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix or an IP address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// IMAP holds the limits of IMAP sessions.
type IMAP struct {
	// AppendLimit is the largest message APPEND accepts (RFC 7889).
	AppendLimit int64 `toml:"append_limit" env:"CONGTHU_IMAP_APPEND_LIMIT"`
	// AllowInsecureAuth allows LOGIN without TLS from loopback clients
	// only, for development. Off by default.
	AllowInsecureAuth bool `toml:"allow_insecure_auth" env:"CONGTHU_IMAP_ALLOW_INSECURE_AUTH"`
	// IdleTimeout ends with BYE an IDLE command that lasted this long,
	// and a connection that sent no command for this long (the
	// autologout timer; RFC 9051 section 5.4 requires at least 30
	// minutes).
	IdleTimeout Duration `toml:"idle_timeout" env:"CONGTHU_IMAP_IDLE_TIMEOUT"`
}

// Auth holds password verification and failed-login throttling.
type Auth struct {
	// CacheTTL is how long a successful password verification is
	// remembered in memory (invalidated on password change); 0 disables.
	CacheTTL Duration `toml:"cache_ttl" env:"CONGTHU_AUTH_CACHE_TTL"`
	// MaxFailuresPerAccount failed logins within FailureWindow lock the
	// account out for Lockout.
	MaxFailuresPerAccount int `toml:"max_failures_per_account" env:"CONGTHU_AUTH_MAX_FAILURES_PER_ACCOUNT"`
	// MaxFailuresPerIP failed logins from one client IP within
	// FailureWindow lock that IP out for Lockout.
	MaxFailuresPerIP int `toml:"max_failures_per_ip" env:"CONGTHU_AUTH_MAX_FAILURES_PER_IP"`
	// FailureWindow is the window in which failed logins are counted.
	FailureWindow Duration `toml:"failure_window" env:"CONGTHU_AUTH_FAILURE_WINDOW"`
	// Lockout is how long a locked-out account or IP is refused.
	Lockout Duration `toml:"lockout" env:"CONGTHU_AUTH_LOCKOUT"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `toml:"level" env:"CONGTHU_LOG_LEVEL"`
	// Format is text or json (log/slog, to stderr).
	Format string `toml:"format" env:"CONGTHU_LOG_FORMAT"`
}

// Default returns the embedded single-machine setup: SQLite under ./data,
// a self-signed certificate, unprivileged ports.
func Default() *Config {
	return &Config{
		Hostname: "localhost",
		DataDir:  "data",
		Listen: Listen{
			Submission:  ":1587",
			Submissions: ":1465",
			IMAP:        ":1143",
			IMAPS:       ":1993",
			MX:          ":2525",
			HTTP:        ":8080",
		},
		Admin: Admin{Addr: "127.0.0.1:8081", IdleTimeout: Duration(30 * time.Minute)},
		SMTP: SMTP{
			MaxMessageBytes:              25 << 20,
			MaxRecipients:                100,
			CommandTimeout:               Duration(5 * time.Minute),
			DataTimeout:                  Duration(10 * time.Minute),
			MaxConnections:               1000,
			MaxMessagesPerAccountPerHour: 1000,
		},
		MX: MX{
			MaxConnections:            1000,
			MaxConnectionsPerIP:       20,
			MaxMessagesPerIPPerMinute: 120,
			DMARCReject:               DMARCReject,
			MTASTSMode:                Off,
			DMARCQuarantine:           DMARCJunk,
		},
		Filter: Filter{SpamAddHeader: "junk", Failure: "tempfail", Timeout: Duration(20 * time.Second)},
		Zalo: Zalo{APIURL: "https://business.openapi.zalo.me", OAuthURL: "https://oauth.zaloapp.com",
			ReceiptTimeout: Duration(30 * time.Minute)},
		IMAP: IMAP{
			AppendLimit: 25 << 20,
			IdleTimeout: Duration(30 * time.Minute),
		},
		Auth: Auth{
			CacheTTL:              Duration(5 * time.Minute),
			MaxFailuresPerAccount: 10,
			MaxFailuresPerIP:      20,
			FailureWindow:         Duration(15 * time.Minute),
			Lockout:               Duration(15 * time.Minute),
		},
		Delivery: Delivery{
			RetrySchedule: DurationList{
				Duration(time.Minute), Duration(5 * time.Minute), Duration(15 * time.Minute),
				Duration(30 * time.Minute), Duration(time.Hour), Duration(2 * time.Hour), Duration(4 * time.Hour),
			},
			MaxQueueAge:             Duration(120 * time.Hour),
			DelayNotice:             Duration(4 * time.Hour),
			MaxConnectionsPerDomain: 10,
			SmarthostMaxConnections: 50,
			Workers:                 256,
			MTASTS:                  true,
		},
		API: API{RateLimit: 3000, IdempotencyRetention: Duration(30 * 24 * time.Hour),
			ReminderLead: Duration(24 * time.Hour), ReminderMinNotice: Duration(2 * time.Hour)},
		SMS: SMS{
			SMPPWindow:      10,
			SMPPRate:        100,
			Primary:         "smpp",
			QuietHours:      "21:00-07:00",
			MaxParts:        4,
			MaxPerHour:      5,
			DuplicateWindow: Duration(10 * time.Minute),
		},
		Log:    Log{Level: "info", Format: "text"},
		Limits: defaultLimits(),
	}
}

// Load reads the configuration: defaults, then the file at path (if path
// is not empty), then the environment (getenv, usually os.Getenv). It
// returns the first error in reading; call Validate for the rest.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	if path != "" {
		md, err := toml.DecodeFile(path, c)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return nil, fmt.Errorf("config file %s: unknown setting(s): %s", path, strings.Join(keys, ", "))
		}
	}
	if err := applyEnv(reflect.ValueOf(c).Elem(), getenv); err != nil {
		return nil, err
	}
	return c, nil
}

// applyEnv sets every field whose env tag names a set variable.
func applyEnv(v reflect.Value, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, getenv); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		s, ok := lookup(getenv, name)
		if !ok {
			continue
		}
		if err := setField(fv, s); err != nil {
			return fmt.Errorf("environment %s=%q: %w", name, s, err)
		}
	}
	return nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		return os.LookupEnv(name)
	}
	s := getenv(name)
	return s, s != ""
}

func setField(fv reflect.Value, s string) error {
	if u, ok := fv.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean (true or false)")
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		fv.SetInt(n)
	default:
		return fmt.Errorf("unsupported setting type %s", fv.Type())
	}
	return nil
}

// Validate checks the whole configuration and returns every problem found,
// each naming the setting (file key and environment variable).
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s (%s): %s", key, env, fmt.Sprintf(format, args...)))
	}
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " /:@\t") {
		bad("hostname", "CONGTHU_HOSTNAME", "%q is not a host name", c.Hostname)
	}
	if c.DataDir == "" {
		bad("data_dir", "CONGTHU_DATA_DIR", "must not be empty")
	}
	if u := c.DatabaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") && !strings.HasPrefix(u, "sqlite:") {
		bad("database_url", "CONGTHU_DATABASE_URL", "%q: want empty (SQLite in data_dir), sqlite:PATH or postgres://...", redactURL(u))
	} else if u != "" {
		if _, err := url.Parse(u); err != nil && !strings.HasPrefix(u, "sqlite:") {
			bad("database_url", "CONGTHU_DATABASE_URL", "not a URL: %v", errors.Unwrap(err))
		}
	}
	if u := c.RedisURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "redis" && pu.Scheme != "rediss" && pu.Scheme != "unix") || (pu.Scheme != "unix" && pu.Host == "") {
			bad("redis_url", "CONGTHU_REDIS_URL", "%q: want redis://host:port/db, rediss://... or unix://path", redactURL(u))
		}
	}
	addrs := []struct{ key, env, val string }{
		{"listen.submission", "CONGTHU_SUBMISSION_ADDR", c.Listen.Submission},
		{"listen.submissions", "CONGTHU_SUBMISSIONS_ADDR", c.Listen.Submissions},
		{"listen.imap", "CONGTHU_IMAP_ADDR", c.Listen.IMAP},
		{"listen.imaps", "CONGTHU_IMAPS_ADDR", c.Listen.IMAPS},
		{"listen.mx", "CONGTHU_MX_ADDR", c.Listen.MX},
		{"listen.http", "CONGTHU_HTTP_ADDR", c.Listen.HTTP},
		{"admin.addr", "CONGTHU_ADMIN_ADDR", c.Admin.Addr},
	}
	seen := map[string]string{}
	for _, a := range addrs {
		if a.val == Off {
			continue
		}
		host, port, err := net.SplitHostPort(a.val)
		if err != nil {
			bad(a.key, a.env, "%q is not host:port or %q", a.val, Off)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(a.key, a.env, "%q: port %q is not a number from 0 to 65535", a.val, port)
			continue
		}
		if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
			bad(a.key, a.env, "%q: bad host %q", a.val, host)
			continue
		}
		if port != "0" {
			if other, dup := seen[port]; dup {
				bad(a.key, a.env, "port %s is already used by %s", port, other)
			}
			seen[port] = a.key
		}
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls", "CONGTHU_TLS_CERT/CONGTHU_TLS_KEY", "set both the certificate and the key, or neither (for a generated self-signed certificate)")
	} else if c.TLS.Cert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key); err != nil {
			bad("tls", "CONGTHU_TLS_CERT/CONGTHU_TLS_KEY", "cannot load the key pair: %v", err)
		}
	}
	positive := []struct {
		key, env string
		v        int64
	}{
		{"smtp.max_message_bytes", "CONGTHU_SMTP_MAX_MESSAGE_BYTES", c.SMTP.MaxMessageBytes},
		{"smtp.max_recipients", "CONGTHU_SMTP_MAX_RECIPIENTS", int64(c.SMTP.MaxRecipients)},
		{"smtp.command_timeout", "CONGTHU_SMTP_COMMAND_TIMEOUT", int64(c.SMTP.CommandTimeout)},
		{"smtp.data_timeout", "CONGTHU_SMTP_DATA_TIMEOUT", int64(c.SMTP.DataTimeout)},
		{"smtp.max_connections", "CONGTHU_SMTP_MAX_CONNECTIONS", int64(c.SMTP.MaxConnections)},
		{"mx.max_connections", "CONGTHU_MX_MAX_CONNECTIONS", int64(c.MX.MaxConnections)},
		{"imap.append_limit", "CONGTHU_IMAP_APPEND_LIMIT", c.IMAP.AppendLimit},
		{"imap.idle_timeout", "CONGTHU_IMAP_IDLE_TIMEOUT", int64(c.IMAP.IdleTimeout)},
		{"auth.max_failures_per_account", "CONGTHU_AUTH_MAX_FAILURES_PER_ACCOUNT", int64(c.Auth.MaxFailuresPerAccount)},
		{"auth.max_failures_per_ip", "CONGTHU_AUTH_MAX_FAILURES_PER_IP", int64(c.Auth.MaxFailuresPerIP)},
		{"auth.failure_window", "CONGTHU_AUTH_FAILURE_WINDOW", int64(c.Auth.FailureWindow)},
		{"auth.lockout", "CONGTHU_AUTH_LOCKOUT", int64(c.Auth.Lockout)},
		{"delivery.max_queue_age", "CONGTHU_MAX_QUEUE_AGE", int64(c.Delivery.MaxQueueAge)},
		{"delivery.delay_notice", "CONGTHU_DELAY_NOTICE", int64(c.Delivery.DelayNotice)},
		{"delivery.max_connections_per_domain", "CONGTHU_MAX_CONNECTIONS_PER_DOMAIN", int64(c.Delivery.MaxConnectionsPerDomain)},
		{"delivery.smarthost_max_connections", "CONGTHU_SMARTHOST_MAX_CONNECTIONS", int64(c.Delivery.SmarthostMaxConnections)},
		{"delivery.workers", "CONGTHU_DELIVERY_WORKERS", int64(c.Delivery.Workers)},
		{"api.rate_limit", "CONGTHU_API_RATE_LIMIT", int64(c.API.RateLimit)},
		{"admin.idle_timeout", "CONGTHU_ADMIN_IDLE_TIMEOUT", int64(c.Admin.IdleTimeout)},
		{"sms.smpp_window", "CONGTHU_SMPP_WINDOW", int64(c.SMS.SMPPWindow)},
		{"sms.max_parts", "CONGTHU_SMS_MAX_PARTS", int64(c.SMS.MaxParts)},
		{"sms.max_per_hour", "CONGTHU_SMS_MAX_PER_HOUR", int64(c.SMS.MaxPerHour)},
		{"sms.duplicate_window", "CONGTHU_SMS_DUPLICATE_WINDOW", int64(c.SMS.DuplicateWindow)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.key, p.env, "must be greater than zero")
		}
	}
	if a := c.Delivery.Smarthost; a != "" {
		if _, p, err := net.SplitHostPort(a); err != nil || p == "" {
			bad("delivery.smarthost", "CONGTHU_SMARTHOST", "%q is not host:port", a)
		}
	}
	if (c.Delivery.SmarthostUsername != "") != (c.Delivery.SmarthostPassword != "") {
		bad("delivery.smarthost_username", "CONGTHU_SMARTHOST_USERNAME/CONGTHU_SMARTHOST_PASSWORD", "set both or neither")
	}
	if a := c.Delivery.DNSResolver; a != "" {
		if h, _, err := net.SplitHostPort(a); err != nil || net.ParseIP(h) == nil {
			bad("delivery.dns_resolver", "CONGTHU_DNS_RESOLVER", "%q is not ip:port", a)
		}
	}
	if len(c.Delivery.RetrySchedule) == 0 {
		bad("delivery.retry_schedule", "CONGTHU_RETRY_SCHEDULE", "must list at least one delay")
	}
	for _, d := range c.Delivery.RetrySchedule {
		if d <= 0 {
			bad("delivery.retry_schedule", "CONGTHU_RETRY_SCHEDULE", "delays must be greater than zero, got %s", d)
		}
	}
	if a := c.SMS.SMPPAddr; a != "" {
		if _, p, err := net.SplitHostPort(a); err != nil || p == "" {
			bad("sms.smpp_addr", "CONGTHU_SMPP_ADDR", "%q is not host:port", a)
		}
		if c.SMS.SMPPSystemID == "" {
			bad("sms.smpp_system_id", "CONGTHU_SMPP_SYSTEM_ID", "required with an SMPP address")
		}
	}
	if u := c.SMS.HTTPURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			bad("sms.http_url", "CONGTHU_SMS_HTTP_URL", "%q is not an http(s) URL", redactURL(u))
		}
	}
	if h := c.SMS.HTTPAuthHeader; h != "" && !strings.Contains(h, ":") {
		bad("sms.http_auth_header", "CONGTHU_SMS_HTTP_AUTH_HEADER", "want \"Name: value\"")
	}
	if (c.SMS.SMPPAddr != "" || c.SMS.HTTPURL != "") && c.SMS.Sender == "" {
		bad("sms.sender", "CONGTHU_SMS_SENDER", "required when an SMS provider is configured (the brandname or number)")
	}
	if c.SMS.Primary != "smpp" && c.SMS.Primary != "http" {
		bad("sms.primary", "CONGTHU_SMS_PRIMARY", "%q: want smpp or http", c.SMS.Primary)
	}
	if !validQuietHours(c.SMS.QuietHours) {
		bad("sms.quiet_hours", "CONGTHU_SMS_QUIET_HOURS", "%q: want HH:MM-HH:MM (e.g. 21:00-07:00) or off", c.SMS.QuietHours)
	}
	if c.SMS.SMPPRate < 0 {
		bad("sms.smpp_rate", "CONGTHU_SMPP_RATE", "must not be negative (0: no cap)")
	}
	if c.MX.MaxConnectionsPerIP == 0 {
		bad("mx.max_connections_per_ip", "CONGTHU_MX_MAX_CONNECTIONS_PER_IP", "must not be zero (a negative number: no cap)")
	}
	if c.MX.MaxMessagesPerIPPerMinute == 0 {
		bad("mx.max_messages_per_ip_per_minute", "CONGTHU_MX_MAX_MESSAGES_PER_IP_PER_MINUTE", "must not be zero (a negative number: no cap)")
	}
	for _, s := range c.MX.LimitExempt {
		if _, err := parsePrefix(s); err != nil {
			bad("mx.limit_exempt", "CONGTHU_MX_LIMIT_EXEMPT", "%v", err)
		}
	}
	switch c.MX.MTASTSMode {
	case Off, mtasts.Testing, mtasts.Enforce, mtasts.None:
		if _, err := mtasts.Parse(c.MTASTSPolicy()); c.MX.MTASTSMode != Off && err != nil {
			bad("mx.mta_sts_mx", "CONGTHU_MX_MTA_STS_MX", "%v (want host names of two labels or more, or *.domain)", err)
		}
	default:
		bad("mx.mta_sts_mode", "CONGTHU_MX_MTA_STS_MODE", "%q: want off, testing, enforce or none", c.MX.MTASTSMode)
	}
	if v := c.MX.DMARCReject; v != DMARCReject && v != DMARCQuarantine {
		bad("mx.dmarc_reject", "CONGTHU_MX_DMARC_REJECT", "%q: want %s or %s", v, DMARCReject, DMARCQuarantine)
	}
	if v := c.MX.DMARCQuarantine; v != DMARCJunk && v != DMARCInbox {
		bad("mx.dmarc_quarantine", "CONGTHU_MX_DMARC_QUARANTINE", "%q: want %s or %s", v, DMARCJunk, DMARCInbox)
	}
	if u := c.Filter.RspamdURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad("filter.rspamd_url", "CONGTHU_RSPAMD_URL", "%q: want http://host:port", redactURL(u))
		}
	}
	if a := c.Filter.ClamdAddr; a != "" {
		if p, ok := strings.CutPrefix(a, "unix:"); ok {
			if !strings.HasPrefix(p, "/") {
				bad("filter.clamd_addr", "CONGTHU_CLAMD_ADDR", "%q: want host:port or unix:/absolute/path", a)
			}
		} else if _, _, err := net.SplitHostPort(a); err != nil {
			bad("filter.clamd_addr", "CONGTHU_CLAMD_ADDR", "%q: want host:port or unix:/absolute/path", a)
		}
	}
	for _, u := range []struct{ key, env, val string }{
		{"zalo.api_url", "CONGTHU_ZNS_API_URL", c.Zalo.APIURL}, {"zalo.oauth_url", "CONGTHU_ZNS_OAUTH_URL", c.Zalo.OAuthURL},
	} {
		if pu, err := url.Parse(u.val); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad(u.key, u.env, "%q: want an http(s) URL", u.val)
		}
	}
	if c.Zalo.AppID != "" && c.Zalo.AppSecret == "" {
		bad("zalo.app_secret", "CONGTHU_ZNS_APP_SECRET", "required with zalo.app_id")
	}
	if c.Zalo.AppID != "" && c.Zalo.OASecret == "" {
		bad("zalo.oa_secret", "CONGTHU_ZNS_OA_SECRET", "required with zalo.app_id (it signs Zalo's delivery events)")
	}
	if t := c.Zalo.ReceiptTimeout.D(); t < time.Minute || t > 24*time.Hour {
		bad("zalo.receipt_timeout", "CONGTHU_ZNS_RECEIPT_TIMEOUT", "%s: want 1m to 24h", c.Zalo.ReceiptTimeout)
	}
	if d := c.API.ReminderLead.D(); d < 0 || d > 30*24*time.Hour {
		bad("api.reminder_lead", "CONGTHU_REMINDER_LEAD", "%s: want 0 (off) to 720h", c.API.ReminderLead)
	}
	if d := c.API.ReminderMinNotice.D(); d < 0 || d > 7*24*time.Hour {
		bad("api.reminder_min_notice", "CONGTHU_REMINDER_MIN_NOTICE", "%s: want 0 to 168h", c.API.ReminderMinNotice)
	}
	if c.Zalo.PriceVND < 0 {
		bad("zalo.price_vnd", "CONGTHU_PRICE_ZNS_VND", "must not be negative")
	}
	if c.SMS.PriceVND < 0 {
		bad("sms.price_vnd_per_part", "CONGTHU_PRICE_SMS_VND", "must not be negative")
	}
	seenCh := map[string]bool{}
	for _, ch := range c.API.DefaultChannels {
		switch {
		case ch != "email" && ch != "sms" && ch != "zalo":
			bad("api.default_channels", "CONGTHU_DEFAULT_CHANNELS", "%q: want email, zalo or sms", ch)
		case ch == "zalo" && c.Zalo.AppID == "":
			bad("api.default_channels", "CONGTHU_DEFAULT_CHANNELS", "zalo needs zalo.app_id (CONGTHU_ZNS_APP_ID)")
		case seenCh[ch]:
			bad("api.default_channels", "CONGTHU_DEFAULT_CHANNELS", "%s given twice", ch)
		}
		seenCh[ch] = true
	}
	if seenCh["sms"] && seenCh["zalo"] && slices.Index(c.API.DefaultChannels, "sms") < slices.Index(c.API.DefaultChannels, "zalo") {
		bad("api.default_channels", "CONGTHU_DEFAULT_CHANNELS", "zalo must come before sms (later phone channels are fallbacks; only sms can be one)")
	}
	if v := c.Filter.SpamAddHeader; v != "junk" && v != "inbox" {
		bad("filter.spam_action_add_header", "CONGTHU_SPAM_ACTION_ADD_HEADER", "%q: want junk or inbox", v)
	}
	if v := c.Filter.Failure; v != "tempfail" && v != "accept" {
		bad("filter.failure", "CONGTHU_FILTER_FAILURE", "%q: want tempfail or accept", v)
	}
	if t := c.Filter.Timeout.D(); t < time.Second || t > 5*time.Minute {
		bad("filter.timeout", "CONGTHU_FILTER_TIMEOUT", "%s: want 1s to 5m", c.Filter.Timeout)
	}
	if c.Auth.CacheTTL < 0 {
		bad("auth.cache_ttl", "CONGTHU_AUTH_CACHE_TTL", "must not be negative")
	}
	if r := c.API.IdempotencyRetention; r < 0 || (r > 0 && r.D() < 24*time.Hour) {
		bad("api.idempotency_retention", "CONGTHU_API_IDEMPOTENCY_RETENTION", "%s: want 0 (keep for ever) or at least 24h, so a back office's retries within a day are still recognised", r)
	}
	for _, s := range c.API.CallbackAllow {
		if _, err := parsePrefix(s); err != nil {
			bad("api.callback_allow", "CONGTHU_API_CALLBACK_ALLOW", "%v", err)
		}
	}
	if c.IMAP.IdleTimeout > 0 && c.IMAP.IdleTimeout.D() < 30*time.Minute {
		bad("imap.idle_timeout", "CONGTHU_IMAP_IDLE_TIMEOUT", "%s is shorter than the 30 minutes RFC 9051 section 5.4 requires", c.IMAP.IdleTimeout)
	}
	c.Limits.validate(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "CONGTHU_LOG_LEVEL", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "CONGTHU_LOG_FORMAT", "%q: want text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// validQuietHours accepts "off" or "HH:MM-HH:MM" with a non-empty window.
func validQuietHours(s string) bool {
	if s == "off" {
		return true
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	ta, err1 := time.Parse("15:04", strings.TrimSpace(a))
	tb, err2 := time.Parse("15:04", strings.TrimSpace(b))
	return err1 == nil && err2 == nil && !ta.Equal(tb)
}

// Enabled reports whether a listener address is set and not "off".
func Enabled(addr string) bool { return addr != "" && addr != Off }

// redactURL hides a password in a URL for error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// Duration is a time.Duration written as "90s", "5m", "1h30m" in the file.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration like 90s, 5m or 1h30m: %q", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats a Duration for the file.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DurationList is a comma-separated list of durations: "1m,5m,1h".
type DurationList []Duration

// UnmarshalText parses a comma-separated list of Go durations.
func (l *DurationList) UnmarshalText(b []byte) error {
	var out DurationList
	for _, f := range strings.Split(string(b), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var d Duration
		if err := d.UnmarshalText([]byte(f)); err != nil {
			return err
		}
		out = append(out, d)
	}
	*l = out
	return nil
}

// MarshalText formats the list as the file holds it.
func (l DurationList) MarshalText() ([]byte, error) {
	parts := make([]string, len(l))
	for i, d := range l {
		parts[i] = d.String()
	}
	return []byte(strings.Join(parts, ",")), nil
}

// Durations returns the list as time.Durations.
func (l DurationList) Durations() []time.Duration {
	out := make([]time.Duration, len(l))
	for i, d := range l {
		out[i] = d.D()
	}
	return out
}

// StringList is a comma-separated list: "a.gov.vn,b.gov.vn".
type StringList []string

// UnmarshalText parses a comma-separated list, dropping empty items.
func (l *StringList) UnmarshalText(b []byte) error {
	var out StringList
	for _, f := range strings.Split(string(b), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	*l = out
	return nil
}

// MarshalText formats the list as the file holds it.
func (l StringList) MarshalText() ([]byte, error) { return []byte(strings.Join(l, ",")), nil }
