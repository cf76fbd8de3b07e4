package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "congthu"

// rule says that no package matched by from imports, directly or not, a
// package matched by one of not. Patterns are module-relative: "store"
// is that package alone, "sms/..." is sms and everything under it.
type rule struct {
	from string
	not  []string
	why  string
}

// rules are the dependency rules that hold today; docs/design.md states
// them. The commented ones are the target and are enabled by the change
// that makes them true.
var rules = []rule{
	{"store", []string{"imapd", "smtpd/...", "dispatcher/...", "httpapi/...", "webhook/...", "sms/...", "queue/...", "templates/...", "bounce/...", "dkim/...", "cmd/..."},
		"the mail store is the bottom of mail: it knows no protocol, delivery or notification"},
	{"store", []string{"imapd/..."}, "the stored IMAP envelope is package envelope, not part of IMAP"},
	{"store/...", []string{"notify/..."}, "the mail store knows nothing of notifications: the notification store (notify/notifydb) subscribes to its outbox hook"},
	{"outbox/...", []string{"notify/...", "sms/...", "httpapi/...", "dispatcher/...", "smtpd/...", "imapd/...", "webhook/...", "queue/...", "templates/...", "cmd/..."},
		"the outbox is storage for mail delivery: it records outcomes and offers them through its hook, knowing nothing of who subscribes"},
	{"outbox/...", []string{"store/..."}, "the mail store writes the outbox in its delivery transaction, never the other way (the blob table both use is internal/blob)"},
	{"notify/notifydb", []string{"httpapi/...", "dispatcher/...", "smtpd/...", "imapd/...", "webhook/...", "sms/...", "queue/...", "templates/...", "cmd/..."},
		"the notification store is storage: it knows the mail store and the SQL layer, nothing above them"},
	{"smtpd", []string{"dispatcher/...", "notify/...", "httpapi/...", "webhook/...", "sms/...", "queue/...", "imapd", "cmd/..."},
		"submission and MX commit to the store; they neither deliver nor notify"},
	{"imapd/...", []string{"smtpd/...", "dispatcher/...", "notify/...", "httpapi/...", "webhook/...", "sms/...", "queue/...", "cmd/..."},
		"IMAP reads the store"},
	{"dispatcher/...", []string{"httpapi/...", "smtpd/...", "imapd", "templates/...", "cmd/..."},
		"mail delivery is below the edges"},
	{"dispatcher/...", []string{"notify/...", "sms/...", "webhook/..."}, "mail delivery knows nothing of notifications, SMS or callbacks"},
	{"notify/...", []string{"httpapi/...", "dispatcher/...", "smtpd/...", "imapd", "cmd/..."},
		"notifications are below the API and beside delivery"},
	{"notify", []string{"sms/...", "zns/..."}, "the providers are their channels' (notify/smschan, notify/zalochan), not the base package's"},
	{"webhook/...", []string{"httpapi/...", "dispatcher/...", "notify", "notify/smschan", "smtpd/...", "imapd", "cmd/..."},
		"callbacks are a leaf of notifications (they read the notification store, notify/notifydb)"},
	{"sms/...", []string{"store/...", "queue/...", "httpapi/...", "dispatcher/...", "notify/...", "webhook/...", "cmd/..."},
		"SMS providers and policy are leaves"},
	{"console/...", []string{"smtpd/...", "imapd/...", "dispatcher/...", "httpapi/...", "cmd/..."},
		"the console is an edge beside the API: pages over the stores, the queues and notify.Builder; it neither speaks a mail protocol nor delivers"},
	{"console/...", []string{"sms/smpp", "sms/httpsms", "sms/route", "notify/smschan", "notify/zalochan", "zns/..."},
		"the console knows no channel's sending side: it builds through notify.Builder with the registry it is given"},
	{"httpapi/...", []string{"dispatcher/...", "smtpd/...", "imapd", "cmd/..."},
		"the API commits and enqueues; it does not deliver"},
	{"httpapi/...", []string{"sms/...", "notify/smschan"},
		"the API knows no channel: it is given the channels (notify.Registry) and builds through notify.Builder"},
	{"dossier/...", []string{"httpapi/...", "store/...", "queue/...", "dispatcher/...", "notify/...", "sms/...", "cmd/..."},
		"the dossier-event model is shared by the API, the CLI and the console, and knows none of them nor any channel"},
	{"phone", []string{"sms/...", "dossier/...", "notify/...", "store/...", "httpapi/...", "queue/...", "templates/...", "config/...", "cmd/..."}, "phone numbers are a leaf"},
	{"queue/...", []string{"store/...", "cmd/..."}, "the queue is infrastructure"},
	{"config/...", []string{"store/...", "queue/...", "smtpd/...", "imapd/...", "dispatcher/...", "notify/...", "httpapi/...", "sms/...", "webhook/...", "cmd/..."},
		"configuration is a leaf"},
	{"dkim/...", []string{"store/...", "dispatcher/...", "smtpd/...", "cmd/..."}, "signing is a leaf"},
	{"mtasts", []string{"store/...", "dispatcher/...", "cmd/..."}, "the MTA-STS policy is a leaf"},
	{"learn", []string{"imapd/...", "smtpd/...", "dispatcher/...", "notify/...", "httpapi/...", "cmd/..."},
		"learning is a queue job over the store and rspamd; IMAP only calls its Learner"},
	{"filter/...", []string{"store/...", "queue/...", "smtpd/...", "imapd/...", "dispatcher/...", "notify/...", "httpapi/...", "cmd/..."},
		"the filter daemons' clients are leaves"},
	{"zns/...", []string{"store/...", "queue/...", "httpapi/...", "dispatcher/...", "notify/...", "sms/...", "webhook/...", "cmd/..."},
		"the ZNS API client is a leaf, as the SMS providers are"},
	{"internal/metrics", []string{"store/...", "outbox/...", "queue/...", "smtpd/...", "imapd/...", "dispatcher/...", "httpapi/...", "notify/...", "loginlimit/...", "config/...", "cmd/..."},
		"the metrics registry is a leaf every layer may count into"},
	{"...", []string{"internal/testenv", "internal/testcert", "internal/testdns", "mtasts/ststest", "sms/smpp/smpptest", "zns/znstest"},
		"test helpers are for tests only"},
}

// pkg is what the test needs of `go list -json`.
type pkg struct {
	ImportPath string
	Deps       []string
}

// listPackages runs go list over the module: every package and its
// transitive imports, tests excluded.
func listPackages(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		graph[p.ImportPath] = p.Deps
	}
	return graph
}

// match reports whether the import path matches the module-relative
// pattern.
func match(pattern, path string) bool {
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return false
	}
	if pattern == "..." {
		return true
	}
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == tree || strings.HasPrefix(rel, tree+"/")
	}
	return rel == pattern
}

func matchAny(patterns []string, path string) bool {
	for _, n := range patterns {
		if match(n, path) {
			return true
		}
	}
	return false
}

// violations returns "from imports dep (why)" for every broken rule, and
// the rules whose from pattern matches no package (stale after a rename).
func violations(graph map[string][]string, rules []rule) (broken, unmatched []string) {
	paths := make([]string, 0, len(graph))
	for p := range graph {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, r := range rules {
		matched := false
		for _, p := range paths {
			if !match(r.from, p) {
				continue
			}
			matched = true
			if matchAny(r.not, p) {
				continue // a forbidden package may use its own kind
			}
			for _, d := range graph[p] {
				for _, n := range r.not {
					if match(n, d) {
						broken = append(broken, p+" imports "+d+" ("+r.why+")")
					}
				}
			}
		}
		if !matched {
			unmatched = append(unmatched, r.from)
		}
	}
	return broken, unmatched
}

func TestDependencyRules(t *testing.T) {
	broken, unmatched := violations(listPackages(t), rules)
	for _, b := range broken {
		t.Errorf("%s", b)
	}
	for _, u := range unmatched {
		t.Errorf("rule for %q matches no package: update the table in internal/archtest and docs/design.md", u)
	}
}

// The checker catches a violation, transitive ones included, and a rule
// left behind by a rename.
func TestViolations(t *testing.T) {
	graph := map[string][]string{
		"congthu/store":           {"congthu/mailtext"},
		"congthu/smtpd":           {"congthu/store", "congthu/dispatcher", "congthu/queue"},
		"congthu/dispatcher":      {"congthu/queue"},
		"congthu/imapd/envelope":  nil,
		"congthu/imapd":           {"congthu/imapd/envelope"},
		"congthu/internal/testdb": nil,
	}
	broken, unmatched := violations(graph, []rule{
		{"smtpd", []string{"dispatcher/..."}, "a"},
		{"store", []string{"imapd/..."}, "b"},
		{"smtpd/...", []string{"queue"}, "c"},
		{"imapd/...", []string{"imapd"}, "d"},
		{"gone", []string{"store"}, "e"},
	})
	want := []string{"congthu/smtpd imports congthu/dispatcher (a)", "congthu/smtpd imports congthu/queue (c)"}
	if strings.Join(broken, "\n") != strings.Join(want, "\n") {
		t.Errorf("broken = %q, want %q", broken, want)
	}
	if len(unmatched) != 1 || unmatched[0] != "gone" {
		t.Errorf("unmatched = %q, want [gone]", unmatched)
	}
}
