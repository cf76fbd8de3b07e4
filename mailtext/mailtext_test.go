package mailtext

import (
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hello", "hello"},
		{"HÀ NỘI", "ha noi"},
		{"Đà Nẵng", "da nang"},
		{"đường Trường Chinh", "duong truong chinh"},
		{"Hồ sơ số 123/UBND", "ho so so 123/ubnd"},
		{"Thủ tục hành chính", "thu tuc hanh chinh"},
		{"Ho\u0302\u0300 so\u031b", "ho so"}, // decomposed input
		{"ÉCOLE", "ecole"},
		{"\xff", "\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Fold(tt.in)
			if got != tt.want {
				t.Errorf("Fold(%q): got %q, want %q", tt.in, got, tt.want)
			}
			if again := Fold(got); again != got {
				t.Errorf("Fold not idempotent: got %q, want %q", again, got)
			}
		})
	}
}

func TestDecodeHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"=?UTF-8?B?SMOgIE7hu5lp?=", "Hà Nội"},
		{"=?utf-8?q?H=C3=A0_N=E1=BB=99i?=", "Hà Nội"},
		{"=?windows-1258?Q?H=E0_N=F4=DEi?=", "Hà Nô\u0303i"},
		{"=?ISO-8859-1?Q?caf=E9?=", "café"},
		{"=?bogus?Q?x?=", "=?bogus?Q?x?="},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := DecodeHeader(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

const multipartMsg = "From: a@example.gov.vn\r\n" +
	"Subject: test\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--XX\r\n" +
	"Content-Type: multipart/alternative; boundary=YY\r\n" +
	"\r\n" +
	"--YY\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"K=E1=BA=BFt qu=E1=BA=A3 h=E1=BB=93 s=C6=A1=\r\n" +
	" HOÀN THÀNH\r\n" +
	"--YY\r\n" +
	"Content-Type: text/html; charset=windows-1252\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+PGI+Q2Fm6TwvYj4gJmFtcDsgdGjpPC9wPjxzY3JpcHQ+c2VjcmV0PC9zY3JpcHQ+\r\n" +
	"--YY--\r\n" +
	"--XX\r\n" +
	"Content-Type: application/pdf; name=\"=?UTF-8?B?UXV54bq/dCDEkeG7i25oLnBkZg==?=\"\r\n" +
	"Content-Disposition: attachment\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQK\r\n" +
	"--XX\r\n" +
	"Content-Type: image/png\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"aW1hZ2VkYXRh\r\n" +
	"--XX--\r\n"

func TestBodyText(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    []string
		notWant []string
	}{
		{"plain", "Subject: x\r\n\r\nXin chào Hà Nội\r\n", []string{"xin chao ha noi"}, nil},
		{"no header", "just text", nil, nil},
		{"multipart", multipartMsg,
			[]string{"ket qua ho so hoan thanh", "cafe & the", "quyet dinh.pdf"},
			[]string{"secret", "imagedata", "preamble", "<p>", "jvber"}},
		{"latin1", "Content-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n", []string{"cafe"}, nil},
		{"rfc822", "Content-Type: message/rfc822\r\n\r\nSubject: =?UTF-8?Q?Th=C3=B4ng_b=C3=A1o?=\r\n\r\nNội dung\r\n",
			[]string{"thong bao", "noi dung"}, nil},
		{"broken base64", "Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8g!!!d29ybGQ=@@@\r\n", []string{"hello world"}, nil},
		{"bad boundary", "Content-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\nContent-Type: text/plain\r\n\r\nabc\r\n", []string{"abc"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BodyText([]byte(tt.raw))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("got %q, want it not to contain %q", got, w)
				}
			}
		})
	}
}

func TestBodyTextCap(t *testing.T) {
	raw := "Subject: big\r\n\r\n" + strings.Repeat("Trường ", 100000)
	got := BodyText([]byte(raw))
	if len(got) > MaxBodyText {
		t.Errorf("got %d bytes, want at most %d", len(got), MaxBodyText)
	}
	if !strings.HasPrefix(got, "truong truong") {
		t.Errorf("got prefix %q, want folded text", got[:20])
	}
}

func TestStripHTML(t *testing.T) {
	got := StripHTML(`<html><head><STYLE>p{}</STYLE></head><body><p>Xin&nbsp;ch&agrave;o</p><!-- c --><SCRIPT>x()</script>bạn</body>`)
	if want := "Xin chào bạn"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzBodyText(f *testing.F) {
	f.Add([]byte(multipartMsg))
	f.Add([]byte("Subject: x\r\n\r\nbody"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\n--a--"))
	f.Add([]byte("Content-Type: text/html; charset=shift_jis\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<scr=\r\nipt>=ZZ"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := BodyText(raw)
		if len(s) > MaxBodyText {
			t.Fatalf("got %d bytes, want at most %d", len(s), MaxBodyText)
		}
	})
}

// TestFoldFastMatchesSlow checks the rune-by-rune fast path against the
// definition on text mixing every rune it handles.
func TestFoldFastMatchesSlow(t *testing.T) {
	var b strings.Builder
	for _, rg := range foldRanges {
		for r := rg[0]; r <= rg[1]; r++ {
			b.WriteString("A")
			b.WriteRune(r)
			b.WriteRune(r)
			b.WriteString("\u0301 ")
		}
	}
	in := b.String()
	fast, ok := foldFast(in)
	if !ok {
		t.Fatal("foldFast refused its own ranges")
	}
	if slow := foldSlow(in); fast != slow {
		for i := range min(len(fast), len(slow)) {
			if fast[i] != slow[i] {
				t.Fatalf("fast and slow differ at byte %d: got %q, want %q", i, fast[i:min(i+40, len(fast))], slow[i:min(i+40, len(slow))])
			}
		}
		t.Fatalf("fast and slow differ in length: %d vs %d", len(fast), len(slow))
	}
}

func FuzzFold(f *testing.F) {
	f.Add("Hà Nội")
	f.Add("e\u0301\u1100\u1161")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Fold(s), foldSlow(s); got != want {
			t.Errorf("Fold(%q): got %q, want %q", s, got, want)
		}
	})
}

func BenchmarkBodyText(b *testing.B) {
	raw := []byte("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("Kính gửi Ủy ban nhân dân phường, hồ sơ đã được tiếp nhận.\r\n", 150))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		BodyText(raw)
	}
}
