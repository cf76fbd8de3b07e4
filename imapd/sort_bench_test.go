package imapd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/store"
)

// bench50k is a SQLite store with 50,000 messages in one INBOX for the
// SORT and THREAD benchmarks: conversations of 10 messages, each a reply
// ("Re: ...", In-Reply-To and References) to the one before, with dates
// spread over a year and out of arrival order. TestMain removes it.
var bench50k = benchFixture{name: "bench50k", fill: func(ctx context.Context, st *store.Store, acct *store.Account) error {
	return deliverAll(ctx, st, acct, bench50kSize, bench50kMessage)
}}

const bench50kSize = 50000

func bench50kClient(b *testing.B) *imapclient.Client {
	b.Helper()
	bench50k.open(b)
	c, err := imapclient.DialInsecure(bench50k.addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		b.Fatal(err)
	}
	if d, err := c.Select("INBOX", nil).Wait(); err != nil || d.NumMessages != bench50kSize {
		b.Fatalf("SELECT = %+v, %v", d, err)
	}
	return c
}

// bench50kMessage is message i of the fixture.
func bench50kMessage(i int) []byte {
	conv, k := i/10, i%10
	subj := fmt.Sprintf("Hồ sơ %06d: đề nghị cấp bản sao trích lục", conv)
	hdr := ""
	if k > 0 {
		subj = "Re: " + subj
		hdr = fmt.Sprintf("In-Reply-To: <%d.%d@hanoi.gov.vn>\r\nReferences: <%d.0@hanoi.gov.vn> <%d.%d@hanoi.gov.vn>\r\n", conv, k-1, conv, conv, k-1)
	}
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 7*3600)).Add(time.Duration((i*7919)%bench50kSize) * 10 * time.Minute)
	return fmt.Appendf(nil, "From: Cán bộ %d <canbo%d@hanoi.gov.vn>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d.%d@hanoi.gov.vn>\r\n%sMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKính gửi Ông/Bà, hồ sơ %d đang được xử lý.\r\n",
		i%97, i%97, testUser, subj, date.Format(time.RFC1123Z), conv, k, hdr, conv)
}

// BenchmarkSort50k: UID SORT (DATE) UTF-8 ALL over 50,000 messages,
// through the server and imapclient (target < 300 ms).
func BenchmarkSort50k(b *testing.B) {
	c := bench50kClient(b)
	for b.Loop() {
		nums, err := c.UIDSort(&imapclient.SortOptions{SearchCriteria: &imap.SearchCriteria{}, SortCriteria: []imapclient.SortCriterion{{Key: imapclient.SortKeyDate}}}).Wait()
		if err != nil || len(nums) != bench50kSize {
			b.Fatalf("SORT = %d, %v", len(nums), err)
		}
	}
}

// BenchmarkSortSubject50k: UID SORT (SUBJECT) UTF-8 ALL over 50,000
// messages.
func BenchmarkSortSubject50k(b *testing.B) {
	c := bench50kClient(b)
	for b.Loop() {
		nums, err := c.UIDSort(&imapclient.SortOptions{SearchCriteria: &imap.SearchCriteria{}, SortCriteria: []imapclient.SortCriterion{{Key: imapclient.SortKeySubject}}}).Wait()
		if err != nil || len(nums) != bench50kSize {
			b.Fatalf("SORT = %d, %v", len(nums), err)
		}
	}
}

// BenchmarkThread50k: UID THREAD REFERENCES UTF-8 ALL over 50,000
// messages in 5,000 conversations (target < 300 ms).
func BenchmarkThread50k(b *testing.B) {
	c := bench50kClient(b)
	for b.Loop() {
		threads, err := c.UIDThread(&imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: &imap.SearchCriteria{}}).Wait()
		if err != nil || len(threads) != bench50kSize/10 {
			b.Fatalf("THREAD = %d threads, %v", len(threads), err)
		}
	}
}
