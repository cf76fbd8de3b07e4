package wire

import (
	"bufio"
	"strings"
	"testing"
)

// benchDecode decodes the same command b.N times from one stream.
func benchDecode(b *testing.B, cmd string) {
	stream := strings.NewReader("")
	br := bufio.NewReader(stream)
	d := NewDecoder(br, Limits{}, func() error { return nil })
	b.ReportAllocs()
	b.SetBytes(int64(len(cmd)))
	for b.Loop() {
		stream.Reset(cmd)
		br.Reset(stream)
		if _, err := d.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeUIDFetch(b *testing.B) {
	benchDecode(b, "a1 UID FETCH 1:* (FLAGS UID MODSEQ) (CHANGEDSINCE 12345)\r\n")
}

func BenchmarkDecodeAppend(b *testing.B) {
	msg := "From: Phòng Hành chính <hanhchinh@so.gov.vn>\r\nTo: canbo@so.gov.vn\r\n" +
		"Subject: =?UTF-8?B?Q8O0bmcgdsSDbg==?=\r\nDate: Tue, 5 Mar 2024 08:09:10 +0700\r\n" +
		"Message-ID: <1@so.gov.vn>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.Repeat("Nội dung công văn số 123/2024.\r\n", 100)
	benchDecode(b, "a2 APPEND \"Sent\" (\\Seen) \" 5-Mar-2024 08:09:10 +0700\" {"+itoa(len(msg))+"}\r\n"+msg+"\r\n")
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
