// Package smpp is the gateway's SMPP 3.4 client (the ESME side): its own PDU
// codec and a Client that binds to an SMSC, submits messages encoded by
// package sms and hands delivery receipts to a callback.
//
// Spec: "Short Message Peer to Peer Protocol Specification v3.4", 12 Oct
// 1999, issue 1.2. Section numbers in comments refer to it.
//
// # What goes on the wire
//
// GSM-7 text is sent unpacked, one septet per octet, with data_coding 0x00
// (SMSC default alphabet, §5.2.19), which is how Vietnamese SMSCs and most
// others expect it; UCS-2 is sent as UTF-16BE with data_coding 0x08. A text
// of several parts is sent as one submit_sm per part with a concatenation
// user data header at the start of short_message and esm_class 0x40 (UDHI);
// every submit asks for a delivery receipt (registered_delivery 1). Package
// sms also has PackSeptets for peers that want packed GSM-7; the Client
// does not use it.
//
// # Delivery semantics
//
// Submit is at-least-once. A part is reported accepted (with its message_id)
// exactly when its submit_sm_resp with ESME_ROK was read. When the
// connection drops, a response times out or ctx ends after a submit_sm was
// written but before its response was read, Submit returns an error
// matching ErrUnknownOutcome: the SMSC may have accepted it. The caller
// decides whether to send again (and risk a duplicate on the handset) or
// to wait for a delivery receipt. A submit that provably never reached the
// wire (no bind yet, bind lost before the write) is retried by Submit itself
// on the next bind. Temporary statuses (ESME_RTHROTTLED, ESME_RMSGQFUL,
// ESME_RSYSERR...) are retried inside Submit with back-off up to
// Options.MaxAttempts; permanent ones return a *StatusError matching
// ErrPermanent.
package smpp
