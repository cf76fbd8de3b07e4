package sortthread

import (
	"slices"
	"testing"
	"time"
)

var hanoi = time.FixedZone("ICT", 7*3600)

func day(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, hanoi) }

func TestParseField(t *testing.T) {
	for f := Arrival; f <= DisplayTo; f++ {
		got, ok := ParseField(f.String())
		if !ok || got != f {
			t.Errorf("ParseField(%q) = %v, %v; want %v", f.String(), got, ok, f)
		}
	}
	if got, ok := ParseField("displayfrom"); !ok || got != DisplayFrom {
		t.Errorf("ParseField(displayfrom) = %v, %v", got, ok)
	}
	for _, s := range []string{"", "REVERSE", "X-SCORE", "DATEX"} {
		if _, ok := ParseField(s); ok {
			t.Errorf("ParseField(%q) accepted", s)
		}
	}
}

func TestSort(t *testing.T) {
	msgs := []Message{
		{Seq: 1, UID: 11, Arrival: day(5, 9), Date: day(1, 9), Size: 300, Subject: "Re: Giấy hẹn",
			From: Address{"Nguyễn Văn An", "nva.stp", "hanoi.gov.vn"}, To: Address{"", "motcua", "hanoi.gov.vn"}},
		{Seq: 2, UID: 12, Arrival: day(4, 9), Date: time.Time{}, Size: 100, Subject: "[Sở TP] Báo cáo",
			From: Address{"", "ban", "hanoi.gov.vn"}, To: Address{"Đào Thị Bình", "dtb", "hanoi.gov.vn"}, CC: Address{"", "Zed", "x"}},
		{Seq: 3, UID: 13, Arrival: day(3, 9), Date: time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC), Size: 200, Subject: "giấy hẹn",
			From: Address{"ánh", "Anh", "hanoi.gov.vn"}, CC: Address{"", "abe", "x"}},
		{Seq: 4, UID: 14, Arrival: day(2, 9), Date: day(2, 9), Size: 100, Subject: "báo cáo (fwd)",
			From: Address{"Nguyễn Văn An", "NVA.STP", "hanoi.gov.vn"}},
	}
	tests := []struct {
		name     string
		criteria []Criterion
		uid      bool
		want     []uint32
	}{
		{"arrival", []Criterion{{Arrival, false}}, false, []uint32{4, 3, 2, 1}},
		{"reverse arrival", []Criterion{{Arrival, true}}, false, []uint32{1, 2, 3, 4}},
		// 3's 03:30 UTC is 10:30 in Hanoi, after 1's 09:00; 2 has no Date:
		// its arrival on the 4th counts.
		{"date", []Criterion{{Date, false}}, false, []uint32{1, 3, 4, 2}},
		{"size, ties by sequence", []Criterion{{Size, false}}, false, []uint32{2, 4, 3, 1}},
		{"reverse size, ties still by sequence", []Criterion{{Size, true}}, false, []uint32{1, 3, 2, 4}},
		{"size then reverse date", []Criterion{{Size, false}, {Date, true}}, false, []uint32{2, 4, 3, 1}},
		{"subject", []Criterion{{Subject, false}}, false, []uint32{2, 4, 1, 3}},
		{"subject then reverse arrival", []Criterion{{Subject, false}, {Arrival, true}}, false, []uint32{2, 4, 1, 3}},
		{"from: the mailbox, in any case", []Criterion{{From, false}}, false, []uint32{3, 2, 1, 4}},
		{"to: missing first", []Criterion{{To, false}}, false, []uint32{3, 4, 2, 1}},
		{"cc", []Criterion{{CC, false}}, false, []uint32{1, 4, 3, 2}},
		// Display names; 2 has none: "ban@hanoi.gov.vn"; "ánh" is A and an accent.
		{"displayfrom", []Criterion{{DisplayFrom, false}}, false, []uint32{3, 2, 1, 4}},
		{"displayto", []Criterion{{DisplayTo, false}}, false, []uint32{3, 4, 1, 2}},
		{"uid", []Criterion{{Arrival, false}}, true, []uint32{14, 13, 12, 11}},
		{"no criteria: sequence", nil, false, []uint32{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(msgs)
			slices.Reverse(in) // the order given does not matter
			got := Sort(in, tt.criteria, Options{UID: tt.uid})
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
