package smpp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// CommandID identifies a PDU (SMPP 3.4 §5.1.2.1, table 5-1).
type CommandID uint32

// The PDUs this package speaks.
const (
	GenericNack         CommandID = 0x80000000
	BindReceiver        CommandID = 0x00000001
	BindReceiverResp    CommandID = 0x80000001
	BindTransmitter     CommandID = 0x00000002
	BindTransmitterResp CommandID = 0x80000002
	SubmitSM            CommandID = 0x00000004
	SubmitSMResp        CommandID = 0x80000004
	DeliverSM           CommandID = 0x00000005
	DeliverSMResp       CommandID = 0x80000005
	Unbind              CommandID = 0x00000006
	UnbindResp          CommandID = 0x80000006
	BindTransceiver     CommandID = 0x00000009
	BindTransceiverResp CommandID = 0x80000009
	EnquireLink         CommandID = 0x00000015
	EnquireLinkResp     CommandID = 0x80000015
)

var commandNames = map[CommandID]string{
	GenericNack: "generic_nack", BindReceiver: "bind_receiver", BindReceiverResp: "bind_receiver_resp",
	BindTransmitter: "bind_transmitter", BindTransmitterResp: "bind_transmitter_resp",
	SubmitSM: "submit_sm", SubmitSMResp: "submit_sm_resp", DeliverSM: "deliver_sm", DeliverSMResp: "deliver_sm_resp",
	Unbind: "unbind", UnbindResp: "unbind_resp", BindTransceiver: "bind_transceiver",
	BindTransceiverResp: "bind_transceiver_resp", EnquireLink: "enquire_link", EnquireLinkResp: "enquire_link_resp",
}

// String returns the SMPP name, e.g. "submit_sm", or the number in hex.
func (c CommandID) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("command_id(0x%08X)", uint32(c))
}

// IsResponse reports whether c is a response (bit 31 set, §5.1.2.1).
func (c CommandID) IsResponse() bool { return c&0x80000000 != 0 }

// Known reports whether this package can decode the body of c.
func (c CommandID) Known() bool { _, ok := commandNames[c]; return ok }

// HeaderLen is the length of the PDU header (§2.2.1).
const HeaderLen = 16

// MaxPDULen bounds command_length: a submit_sm with a 64 KiB
// message_payload is the largest thing we would ever exchange; anything
// longer is garbage and ends the session.
const MaxPDULen = 64 * 1024

// Decoding errors; a decode error wraps one of them.
var (
	// ErrBadLength: command_length is below 16 or above MaxPDULen, or does
	// not match the octets given. The stream cannot be resynchronised.
	ErrBadLength = errors.New("smpp: invalid command_length")
	// ErrUnknownCommand: a command_id this package does not decode.
	ErrUnknownCommand = errors.New("smpp: unknown command_id")
	// ErrMalformed: the body does not parse (missing NUL, field too long,
	// truncated TLV...).
	ErrMalformed = errors.New("smpp: malformed PDU body")
)

// PDU is one SMPP protocol data unit: the header of §2.2.1 and a body.
type PDU struct {
	ID     CommandID
	Status Status
	Seq    uint32
	// Body is *Bind, *BindResp, *ShortMessage or *SMResp according to ID,
	// or nil for PDUs without a body (enquire_link, unbind, generic_nack
	// and their responses).
	Body Body
}

// Body is the part of a PDU after the header. It is implemented by the
// body types of this package only.
type Body interface {
	appendTo(b []byte) ([]byte, error)
}

// TLV is an optional parameter (§3.2.4, §5.3).
type TLV struct {
	Tag   Tag
	Value []byte
}

// Tag identifies an optional parameter (§5.3.2).
type Tag uint16

// Optional parameters the gateway uses.
const (
	TagUserMessageReference Tag = 0x0204 // §5.3.2.17
	TagSARMsgRefNum         Tag = 0x020C // §5.3.2.22
	TagSARTotalSegments     Tag = 0x020E // §5.3.2.23
	TagSARSegmentSeqnum     Tag = 0x020F // §5.3.2.24
	TagSCInterfaceVersion   Tag = 0x0210 // §5.3.2.25
	TagNetworkErrorCode     Tag = 0x0423 // §5.3.2.31
	TagMessagePayload       Tag = 0x0424 // §5.3.2.32
	TagMessageState         Tag = 0x0427 // §5.3.2.35
	TagReceiptedMessageID   Tag = 0x001E // §5.3.2.12
)

// Bind is the body of bind_transmitter, bind_receiver and bind_transceiver
// (§4.1.1, §4.1.3, §4.1.5).
type Bind struct {
	SystemID         string // max 15 octets
	Password         string // max 8 octets
	SystemType       string // max 12 octets
	InterfaceVersion byte   // 0x34 for SMPP 3.4
	AddrTON          byte
	AddrNPI          byte
	AddressRange     string // max 40 octets
}

// BindResp is the body of the bind responses (§4.1.2): the SMSC's system_id
// and optional sc_interface_version. It may be empty when the bind failed.
type BindResp struct {
	SystemID string
	TLVs     []TLV
}

// ShortMessage is the body of submit_sm (§4.4.1) and deliver_sm (§4.6.1),
// which share one layout.
type ShortMessage struct {
	ServiceType          string // max 5 octets
	SourceTON, SourceNPI byte
	Source               string // max 20 octets
	DestTON, DestNPI     byte
	Dest                 string // max 20 octets
	ESMClass             byte
	ProtocolID           byte
	PriorityFlag         byte
	ScheduleDeliveryTime string // empty or 16 octets
	ValidityPeriod       string // empty or 16 octets
	RegisteredDelivery   byte
	ReplaceIfPresent     byte
	DataCoding           byte
	SMDefaultMsgID       byte
	Message              []byte // short_message, max 254 octets
	TLVs                 []TLV
}

// TLV returns the value of the first optional parameter with tag t.
func (sm *ShortMessage) TLV(t Tag) ([]byte, bool) { return findTLV(sm.TLVs, t) }

// SMResp is the body of submit_sm_resp (§4.4.2) and deliver_sm_resp
// (§4.6.2). MessageID is empty in deliver_sm_resp, and in a submit_sm_resp
// that carried no body at all (some SMSCs send one on errors, and a few even
// on success).
type SMResp struct {
	MessageID string // max 64 octets
}

// ESM class bits (§5.2.12).
const (
	// ESMClassUDHI says short_message starts with a user data header.
	ESMClassUDHI byte = 0x40
	// ESMClassReceipt is the message type of an SMSC delivery receipt in
	// deliver_sm (bits 5..2 = 0001).
	ESMClassReceipt byte = 0x04
	esmTypeMask     byte = 0x3C
)

// Maximum lengths of C-octet strings including the NUL (§4).
const (
	maxSystemID    = 16
	maxPassword    = 9
	maxSystemType  = 13
	maxAddrRange   = 41
	maxServiceType = 6
	maxAddr        = 21
	maxTime        = 17
	maxMessageID   = 65
	maxShortMsg    = 254
)

// Marshal encodes p for the wire.
func (p *PDU) Marshal() ([]byte, error) {
	b := make([]byte, HeaderLen, 64)
	binary.BigEndian.PutUint32(b[4:], uint32(p.ID))
	binary.BigEndian.PutUint32(b[8:], uint32(p.Status))
	binary.BigEndian.PutUint32(b[12:], p.Seq)
	if p.Body != nil {
		var err error
		if b, err = p.Body.appendTo(b); err != nil {
			return nil, fmt.Errorf("smpp: encode %v: %w", p.ID, err)
		}
	}
	if len(b) > MaxPDULen {
		return nil, fmt.Errorf("smpp: encode %v: %d octets: %w", p.ID, len(b), ErrBadLength)
	}
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)))
	return b, nil
}

func appendCString(b []byte, s string, max int, field string) ([]byte, error) {
	if len(s) > max-1 {
		return nil, fmt.Errorf("%s is %d octets, max %d", field, len(s), max-1)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return nil, fmt.Errorf("%s contains NUL", field)
		}
	}
	return append(append(b, s...), 0), nil
}

func appendTLVs(b []byte, tlvs []TLV) ([]byte, error) {
	for _, t := range tlvs {
		if len(t.Value) > 0xFFFF {
			return nil, fmt.Errorf("TLV 0x%04X too long", uint16(t.Tag))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(t.Tag))
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b, nil
}

func (m *Bind) appendTo(b []byte) ([]byte, error) {
	var err error
	if b, err = appendCString(b, m.SystemID, maxSystemID, "system_id"); err != nil {
		return nil, err
	}
	if b, err = appendCString(b, m.Password, maxPassword, "password"); err != nil {
		return nil, err
	}
	if b, err = appendCString(b, m.SystemType, maxSystemType, "system_type"); err != nil {
		return nil, err
	}
	b = append(b, m.InterfaceVersion, m.AddrTON, m.AddrNPI)
	return appendCString(b, m.AddressRange, maxAddrRange, "address_range")
}

func (m *BindResp) appendTo(b []byte) ([]byte, error) {
	b, err := appendCString(b, m.SystemID, maxSystemID, "system_id")
	if err != nil {
		return nil, err
	}
	return appendTLVs(b, m.TLVs)
}

func (m *SMResp) appendTo(b []byte) ([]byte, error) {
	return appendCString(b, m.MessageID, maxMessageID, "message_id")
}

func (m *ShortMessage) appendTo(b []byte) ([]byte, error) {
	var err error
	if b, err = appendCString(b, m.ServiceType, maxServiceType, "service_type"); err != nil {
		return nil, err
	}
	b = append(b, m.SourceTON, m.SourceNPI)
	if b, err = appendCString(b, m.Source, maxAddr, "source_addr"); err != nil {
		return nil, err
	}
	b = append(b, m.DestTON, m.DestNPI)
	if b, err = appendCString(b, m.Dest, maxAddr, "destination_addr"); err != nil {
		return nil, err
	}
	b = append(b, m.ESMClass, m.ProtocolID, m.PriorityFlag)
	if b, err = appendCString(b, m.ScheduleDeliveryTime, maxTime, "schedule_delivery_time"); err != nil {
		return nil, err
	}
	if b, err = appendCString(b, m.ValidityPeriod, maxTime, "validity_period"); err != nil {
		return nil, err
	}
	if len(m.Message) > maxShortMsg {
		return nil, fmt.Errorf("short_message is %d octets, max %d", len(m.Message), maxShortMsg)
	}
	b = append(b, m.RegisteredDelivery, m.ReplaceIfPresent, m.DataCoding, m.SMDefaultMsgID, byte(len(m.Message)))
	b = append(b, m.Message...)
	return appendTLVs(b, m.TLVs)
}

// ReadFrame reads one whole PDU from r: the header, then as many octets as
// command_length says. A command_length below 16 or above MaxPDULen gives
// an error wrapping ErrBadLength, with the header returned so the caller
// can answer generic_nack before it drops the session.
func ReadFrame(r io.Reader) ([]byte, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n < HeaderLen || n > MaxPDULen {
		return h[:], fmt.Errorf("smpp: command_length %d: %w", n, ErrBadLength)
	}
	b := make([]byte, n)
	copy(b, h[:])
	if _, err := io.ReadFull(r, b[HeaderLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// Decode parses one PDU. It never panics. On error the returned PDU still
// has the header fields (ID, Status, Seq) when at least 16 octets were
// given, so that the caller can answer generic_nack with the right
// sequence_number (§4.3).
func Decode(b []byte) (*PDU, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("smpp: %d octets: %w", len(b), ErrBadLength)
	}
	p := &PDU{
		ID:     CommandID(binary.BigEndian.Uint32(b[4:])),
		Status: Status(binary.BigEndian.Uint32(b[8:])),
		Seq:    binary.BigEndian.Uint32(b[12:]),
	}
	if n := binary.BigEndian.Uint32(b[:4]); n != uint32(len(b)) || n > MaxPDULen {
		return p, fmt.Errorf("smpp: command_length %d for %d octets: %w", n, len(b), ErrBadLength)
	}
	d := &decoder{b: b[HeaderLen:]}
	switch p.ID {
	case GenericNack, Unbind, UnbindResp, EnquireLink, EnquireLinkResp:
		// No body (§4.2, §4.3, §4.11). Extra octets are ignored.
	case BindReceiver, BindTransmitter, BindTransceiver:
		m := &Bind{}
		m.SystemID = d.cstring(maxSystemID)
		m.Password = d.cstring(maxPassword)
		m.SystemType = d.cstring(maxSystemType)
		m.InterfaceVersion = d.byte()
		m.AddrTON = d.byte()
		m.AddrNPI = d.byte()
		m.AddressRange = d.cstring(maxAddrRange)
		p.Body = m
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		m := &BindResp{}
		if len(d.b) > 0 {
			m.SystemID = d.cstring(maxSystemID)
			m.TLVs = d.tlvs()
		}
		p.Body = m
	case SubmitSMResp, DeliverSMResp:
		m := &SMResp{}
		if len(d.b) > 0 { // an empty body is tolerated (see SMResp)
			m.MessageID = d.cstring(maxMessageID)
			d.b = nil // §4.4.2 has nothing after message_id; ignore junk
		}
		p.Body = m
	case SubmitSM, DeliverSM:
		m := &ShortMessage{}
		m.ServiceType = d.cstring(maxServiceType)
		m.SourceTON = d.byte()
		m.SourceNPI = d.byte()
		m.Source = d.cstring(maxAddr)
		m.DestTON = d.byte()
		m.DestNPI = d.byte()
		m.Dest = d.cstring(maxAddr)
		m.ESMClass = d.byte()
		m.ProtocolID = d.byte()
		m.PriorityFlag = d.byte()
		m.ScheduleDeliveryTime = d.cstring(maxTime)
		m.ValidityPeriod = d.cstring(maxTime)
		m.RegisteredDelivery = d.byte()
		m.ReplaceIfPresent = d.byte()
		m.DataCoding = d.byte()
		m.SMDefaultMsgID = d.byte()
		n := int(d.byte())
		m.Message = d.bytes(n)
		m.TLVs = d.tlvs()
		p.Body = m
	default:
		return p, fmt.Errorf("smpp: %v: %w", p.ID, ErrUnknownCommand)
	}
	if d.err != nil && p.ID.IsResponse() && p.Status != StatusOK {
		// A failed response only needs its status; ignore a garbled body.
		d.err = nil
	}
	if d.err != nil {
		return p, fmt.Errorf("smpp: %v: %w", p.ID, d.err)
	}
	return p, nil
}

// decoder reads fields from a body; the first error sticks and later reads
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("short_message of %d octets truncated", n)
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b)
	d.b = d.b[n:]
	return out
}

// cstring reads a C-octet string of at most max octets with its NUL (§3.1).
func (d *decoder) cstring(max int) string {
	if d.err != nil {
		return ""
	}
	for i := 0; i < len(d.b) && i < max; i++ {
		if d.b[i] == 0 {
			s := string(d.b[:i])
			d.b = d.b[i+1:]
			return s
		}
	}
	d.fail("C-octet string without NUL within %d octets", max)
	return ""
}

func (d *decoder) tlvs() []TLV {
	var out []TLV
	for d.err == nil && len(d.b) > 0 {
		if len(d.b) < 4 {
			d.fail("truncated TLV header")
			return nil
		}
		tag := Tag(binary.BigEndian.Uint16(d.b))
		n := int(binary.BigEndian.Uint16(d.b[2:]))
		if len(d.b) < 4+n {
			d.fail("TLV 0x%04X of %d octets truncated", uint16(tag), n)
			return nil
		}
		out = append(out, TLV{Tag: tag, Value: append([]byte(nil), d.b[4:4+n]...)})
		d.b = d.b[4+n:]
	}
	return out
}

func findTLV(tlvs []TLV, t Tag) ([]byte, bool) {
	for _, v := range tlvs {
		if v.Tag == t {
			return v.Value, true
		}
	}
	return nil, false
}
