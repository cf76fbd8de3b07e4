// Command dnsstub is a DNS server for benchmarks without network access:
// it answers every question over UDP with NXDOMAIN (no SPF, DKIM or DMARC
// records anywhere), so the MX's checks cost one local round trip each.
//
//	dnsstub -addr 127.0.0.1:5353
package main

import (
	"flag"
	"log"
	"net"

	"golang.org/x/net/dns/dnsmessage"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5353", "UDP address to answer on")
	flag.Parse()
	pc, err := net.ListenPacket("udp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		if resp := answer(buf[:n]); resp != nil {
			pc.WriteTo(resp, from)
		}
	}
}

// answer returns NXDOMAIN for the query, nil for garbage.
func answer(query []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: dnsmessage.RCodeNameError})
	b.StartQuestions()
	b.Question(q)
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}
