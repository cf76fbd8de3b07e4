package smpp

import (
	"errors"
	"fmt"
)

// Status is a command_status (SMPP 3.4 §5.1.3, table 5-2).
type Status uint32

// Command status values the gateway acts on or reports.
const (
	StatusOK              Status = 0x00000000 // ESME_ROK
	StatusInvMsgLen       Status = 0x00000001 // ESME_RINVMSGLEN
	StatusInvCmdLen       Status = 0x00000002 // ESME_RINVCMDLEN
	StatusInvCmdID        Status = 0x00000003 // ESME_RINVCMDID
	StatusInvBndSts       Status = 0x00000004 // ESME_RINVBNDSTS
	StatusAlyBnd          Status = 0x00000005 // ESME_RALYBND
	StatusSysErr          Status = 0x00000008 // ESME_RSYSERR
	StatusInvSrcAdr       Status = 0x0000000A // ESME_RINVSRCADR
	StatusInvDstAdr       Status = 0x0000000B // ESME_RINVDSTADR
	StatusBindFail        Status = 0x0000000D // ESME_RBINDFAIL
	StatusInvPaswd        Status = 0x0000000E // ESME_RINVPASWD
	StatusInvSysID        Status = 0x0000000F // ESME_RINVSYSID
	StatusMsgQFul         Status = 0x00000014 // ESME_RMSGQFUL
	StatusSubmitFail      Status = 0x00000045 // ESME_RSUBMITFAIL
	StatusThrottled       Status = 0x00000058 // ESME_RTHROTTLED
	StatusXTAppn          Status = 0x00000064 // ESME_RX_T_APPN
	StatusXPAppn          Status = 0x00000065 // ESME_RX_P_APPN
	StatusDeliveryFailure Status = 0x000000FE // ESME_RDELIVERYFAILURE
	StatusUnknownErr      Status = 0x000000FF // ESME_RUNKNOWNERR
)

var statusNames = map[Status]string{
	0x00: "ESME_ROK", 0x01: "ESME_RINVMSGLEN", 0x02: "ESME_RINVCMDLEN", 0x03: "ESME_RINVCMDID",
	0x04: "ESME_RINVBNDSTS", 0x05: "ESME_RALYBND", 0x06: "ESME_RINVPRTFLG", 0x07: "ESME_RINVREGDLVFLG",
	0x08: "ESME_RSYSERR", 0x0A: "ESME_RINVSRCADR", 0x0B: "ESME_RINVDSTADR", 0x0C: "ESME_RINVMSGID",
	0x0D: "ESME_RBINDFAIL", 0x0E: "ESME_RINVPASWD", 0x0F: "ESME_RINVSYSID", 0x11: "ESME_RCANCELFAIL",
	0x13: "ESME_RREPLACEFAIL", 0x14: "ESME_RMSGQFUL", 0x15: "ESME_RINVSERTYP", 0x33: "ESME_RINVNUMDESTS",
	0x34: "ESME_RINVDLNAME", 0x40: "ESME_RINVDESTFLAG", 0x42: "ESME_RINVSUBREP", 0x43: "ESME_RINVESMCLASS",
	0x44: "ESME_RCNTSUBDL", 0x45: "ESME_RSUBMITFAIL", 0x48: "ESME_RINVSRCTON", 0x49: "ESME_RINVSRCNPI",
	0x50: "ESME_RINVDSTTON", 0x51: "ESME_RINVDSTNPI", 0x53: "ESME_RINVSYSTYP", 0x54: "ESME_RINVREPFLAG",
	0x55: "ESME_RINVNUMMSGS", 0x58: "ESME_RTHROTTLED", 0x61: "ESME_RINVSCHED", 0x62: "ESME_RINVEXPIRY",
	0x63: "ESME_RINVDFTMSGID", 0x64: "ESME_RX_T_APPN", 0x65: "ESME_RX_P_APPN", 0x66: "ESME_RX_R_APPN",
	0x67: "ESME_RQUERYFAIL", 0xC0: "ESME_RINVOPTPARSTREAM", 0xC1: "ESME_ROPTPARNOTALLWD",
	0xC2: "ESME_RINVPARLEN", 0xC3: "ESME_RMISSINGOPTPARAM", 0xC4: "ESME_RINVOPTPARAMVAL",
	0xFE: "ESME_RDELIVERYFAILURE", 0xFF: "ESME_RUNKNOWNERR",
}

// String returns the spec name, e.g. "ESME_RTHROTTLED", or the hex value.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("command_status(0x%08X)", uint32(s))
}

// Temporary reports whether a submit answered with s may succeed if sent
// again later: throttling (0x58), a full queue (0x14), system errors (0x08),
// ESME_RSUBMITFAIL (0x45, which SMSCs use for passing trouble),
// ESME_RX_T_APPN (0x64), delivery failure (0xFE) and unknown error (0xFF).
// Everything else (bad addresses, bad length, bad parameters, vendor codes)
// is permanent: sending the same PDU again would fail the same way.
func (s Status) Temporary() bool {
	switch s {
	case StatusThrottled, StatusMsgQFul, StatusSysErr, StatusSubmitFail,
		StatusXTAppn, StatusDeliveryFailure, StatusUnknownErr:
		return true
	}
	return false
}

// ErrPermanent is matched (errors.Is) by every *StatusError whose status is
// not Temporary: the dispatcher must not retry.
var ErrPermanent = errors.New("smpp: permanent failure")

// StatusError is a response with a non-zero command_status.
type StatusError struct {
	Command CommandID // the response's command_id (generic_nack possible)
	Status  Status
}

// Error names the command and status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("smpp: %v: %v (0x%02X)", e.Command, e.Status, uint32(e.Status))
}

// Temporary reports whether sending again later may work (Status.Temporary).
func (e *StatusError) Temporary() bool { return e.Status.Temporary() }

// Is makes errors.Is(err, ErrPermanent) true for permanent statuses.
func (e *StatusError) Is(target error) bool { return target == ErrPermanent && !e.Temporary() }
