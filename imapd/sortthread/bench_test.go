package sortthread

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// synthetic makes n messages as a civil servant's mailbox holds them:
// threads of 1 to 20 messages (replies with References of up to ten
// ancestors, some only In-Reply-To, some whose parent is not in the
// mailbox), Vietnamese subjects with "Re:", "TL:", "Fwd:" and "[unit]"
// prefixes, Vietnamese display names, dates over a year in arrival order
// with some Date headers missing.
func synthetic(n int) []Message {
	r := rand.New(rand.NewPCG(1, 2))
	topics := []string{"Giấy tiếp nhận hồ sơ và hẹn trả kết quả", "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
		"Báo cáo tháng", "Lịch họp giao ban", "Đề nghị cấp phép xây dựng", "Kế hoạch công tác quý",
		"Quyết định phê duyệt", "Công văn đến", "Thông báo nghỉ lễ", "Hồ sơ đăng ký kinh doanh"}
	names := []string{"Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thu Dung", "Đào Minh Đức",
		"", "Vũ Thị Hà", "Bùi Quang Huy", "Ngô Thanh Lan", "Đặng Văn Long"}
	prefixes := []string{"Re: ", "TL: ", "RE: Re: ", "Fwd: ", "Trả lời: ", "[Sở Tư pháp] Re: "}
	base := time.Date(2025, 1, 1, 8, 0, 0, 0, time.FixedZone("ICT", 7*3600))
	msgs := make([]Message, 0, n)
	type thread struct {
		subject string
		ids     []string
		left    int
	}
	var open []*thread
	for seq := 1; seq <= n; seq++ {
		arrival := base.Add(time.Duration(seq) * 10 * time.Minute)
		id := fmt.Sprintf("<%d.%d@hanoi.gov.vn>", seq, r.IntN(1e6))
		name := names[r.IntN(len(names))]
		m := Message{
			Seq: uint32(seq), UID: uint32(seq + 1000), Arrival: arrival,
			Date: arrival.Add(-time.Duration(r.IntN(3600)) * time.Second),
			Size: int64(1000 + r.IntN(100000)), MessageID: id,
			From: Address{name, fmt.Sprintf("cb%d", r.IntN(500)), "hanoi.gov.vn"},
			To:   Address{names[r.IntN(len(names))], fmt.Sprintf("cb%d", r.IntN(500)), "hanoi.gov.vn"},
		}
		if r.IntN(3) == 0 {
			m.CC = Address{"", fmt.Sprintf("vp%d", r.IntN(50)), "hanoi.gov.vn"}
		}
		if r.IntN(50) == 0 {
			m.Date = time.Time{}
		}
		if len(open) > 0 && r.IntN(3) != 0 {
			i := r.IntN(len(open))
			t := open[i]
			m.Subject = prefixes[r.IntN(len(prefixes))] + t.subject
			switch refs := t.ids[max(0, len(t.ids)-10):]; r.IntN(10) {
			case 0:
				m.InReplyTo = refs[len(refs)-1]
			case 1:
				m.References = fmt.Sprintf("<gone%d@x> ", seq) + joinIDs(refs)
			default:
				m.References = joinIDs(refs)
			}
			t.ids = append(t.ids, id)
			if t.left--; t.left == 0 {
				open[i] = open[len(open)-1]
				open = open[:len(open)-1]
			}
		} else {
			subject := fmt.Sprintf("%s số %d", topics[r.IntN(len(topics))], r.IntN(n/4))
			m.Subject = subject
			if left := r.IntN(20); left > 0 {
				open = append(open, &thread{subject, []string{id}, left})
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func joinIDs(ids []string) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += " "
		}
		s += id
	}
	return s
}

const benchMessages = 50000

func BenchmarkSort(b *testing.B) {
	msgs := synthetic(benchMessages)
	for _, bc := range []struct {
		name     string
		criteria []Criterion
	}{
		{"DATE", []Criterion{{Date, false}}},
		{"REVERSE_ARRIVAL", []Criterion{{Arrival, true}}},
		{"SUBJECT", []Criterion{{Subject, false}}},
		{"DISPLAYFROM_DATE", []Criterion{{DisplayFrom, false}, {Date, false}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if out := Sort(msgs, bc.criteria, Options{Vietnamese: true}); len(out) != len(msgs) {
					b.Fatal(len(out))
				}
			}
		})
	}
}

func BenchmarkThread(b *testing.B) {
	msgs := synthetic(benchMessages)
	var buf []byte
	b.Run("REFERENCES", func(b *testing.B) {
		for b.Loop() {
			buf = AppendThreads(buf[:0], References(msgs, Options{Vietnamese: true}))
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
	b.Run("ORDEREDSUBJECT", func(b *testing.B) {
		for b.Loop() {
			buf = AppendThreads(buf[:0], OrderedSubject(msgs, Options{Vietnamese: true}))
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
}
