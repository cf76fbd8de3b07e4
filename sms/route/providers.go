package route

import (
	"context"
	"errors"
	"time"

	"congthu/sms"
	"congthu/sms/httpsms"
	"congthu/sms/smpp"
)

// SMPPClient is what the SMPP adapter needs of *smpp.Client.
type SMPPClient interface {
	Submit(ctx context.Context, m smpp.Message) (smpp.SubmitResult, error)
}

// SMPP is a Sender over an SMPP client.
type SMPP struct {
	name string
	c    SMPPClient
}

// NewSMPP returns a Sender named name (for Result.Provider) that submits
// through c, usually an *smpp.Client.
func NewSMPP(name string, c SMPPClient) *SMPP { return &SMPP{name: name, c: c} }

// Name returns the provider's name.
func (s *SMPP) Name() string { return s.name }

// Send submits m. Result.ProviderID is the first part's message_id and
// MessageIDs all of them; errors are mapped by SMPPError.
func (s *SMPP) Send(ctx context.Context, m Message) (Result, error) {
	res, err := s.c.Submit(ctx, smpp.Message{To: m.To, Text: m.Text, Fold: m.Fold})
	out := Result{Provider: s.name, MessageIDs: res.MessageIDs, Encoding: res.Encoding, Parts: res.Parts}
	if len(res.MessageIDs) > 0 {
		out.ProviderID = res.MessageIDs[0]
	}
	if err != nil {
		return out, SMPPError(s.name, res, err)
	}
	return out, nil
}

// SMPPError maps an error of smpp.Client.Submit to a *SendError:
//
//   - ErrUnknownOutcome: temporary provider fault, outcome unknown.
//   - *smpp.StatusError: temporary or permanent as Status.Temporary says
//     (after the client's own retries); a message fault for
//     ESME_RINVDSTADR and ESME_RINVMSGLEN, a provider fault for every other
//     status (a sender the SMSC does not know, a vendor code...), so that
//     the other provider gets a chance.
//   - smpp.ErrBadAddress and the encoding errors of package sms: permanent
//     message faults.
//   - anything else (closed client, no bind before the attempt's deadline):
//     temporary provider fault, nothing sent.
//
// res.MessageIDs, the parts accepted before the failure, are kept.
func SMPPError(name string, res smpp.SubmitResult, err error) *SendError {
	se := &SendError{Provider: name, Err: err, MessageIDs: res.MessageIDs, Temporary: true, Fault: FaultProvider}
	var st *smpp.StatusError
	switch {
	case errors.Is(err, smpp.ErrUnknownOutcome):
		se.UnknownOutcome = true
	case errors.As(err, &st):
		se.Temporary = st.Temporary()
		if st.Status == smpp.StatusInvDstAdr || st.Status == smpp.StatusInvMsgLen {
			se.Fault = FaultMessage
		}
	case errors.Is(err, smpp.ErrBadAddress), errors.Is(err, sms.ErrEmpty),
		errors.Is(err, sms.ErrInvalidUTF8), errors.Is(err, sms.ErrTooManyParts):
		se.Temporary, se.Fault = false, FaultMessage
	}
	return se
}

// HTTPClient is what the HTTP adapter needs of *httpsms.Provider.
type HTTPClient interface {
	Send(ctx context.Context, m httpsms.Message) (httpsms.Result, error)
}

// HTTP is a Sender over an HTTP brandname API.
type HTTP struct {
	name string
	p    HTTPClient
}

// NewHTTP returns a Sender named name that sends through p, usually an
// *httpsms.Provider.
func NewHTTP(name string, p HTTPClient) *HTTP { return &HTTP{name: name, p: p} }

// Name returns the provider's name.
func (h *HTTP) Name() string { return h.name }

// Send sends m; Result.ProviderID is the API's message id. Errors are
// mapped by HTTPError.
func (h *HTTP) Send(ctx context.Context, m Message) (Result, error) {
	res, err := h.p.Send(ctx, httpsms.Message{To: m.To, Text: m.Text, Fold: m.Fold, Reference: m.Reference})
	out := Result{Provider: h.name, ProviderID: res.ProviderID, Encoding: res.Encoding, Parts: res.Parts}
	if res.ProviderID != "" {
		out.MessageIDs = []string{res.ProviderID}
	}
	if err != nil {
		return out, HTTPError(h.name, err)
	}
	return out, nil
}

// HTTPError maps an error of httpsms.Provider.Send to a *SendError: an
// *httpsms.Error keeps its Temporary, UnknownOutcome and RetryAfter, and
// is a message fault when MessageRejected (400, 413, 422), a provider fault
// otherwise (429, 5xx, 401, 403, no answer); any other error (the text or
// number refused before sending) is a permanent message fault.
func HTTPError(name string, err error) *SendError {
	var he *httpsms.Error
	if !errors.As(err, &he) {
		return &SendError{Provider: name, Fault: FaultMessage, Err: err}
	}
	se := &SendError{Provider: name, Err: err, Temporary: he.Temporary(), UnknownOutcome: he.UnknownOutcome(), RetryAfter: he.RetryAfter}
	if he.MessageRejected() {
		se.Fault = FaultMessage
	}
	return se
}

// Receipt is a delivery receipt from either provider, in one form for the
// dispatcher: match it to the message by Provider and ProviderID (for SMPP
// compare ids with smpp.SameMessageID, any part's id may come back).
type Receipt struct {
	Provider   string
	ProviderID string
	// Outcome is delivered, pending, temporary- or permanent-failure.
	Outcome smpp.Outcome
	// Status and ErrorCode are the provider's own words, for the record.
	Status, ErrorCode string
	// Done is when the final state was reached; zero when unknown.
	Done time.Time
}

// SMPPReceipt turns an SMPP delivery receipt of provider name into a Receipt.
func SMPPReceipt(name string, r smpp.Receipt) Receipt {
	return Receipt{Provider: name, ProviderID: r.MessageID, Outcome: r.Outcome(), Status: r.Stat, ErrorCode: r.Err, Done: r.Done}
}

// HTTPReceipt turns an HTTP webhook receipt of provider name into a Receipt.
func HTTPReceipt(name string, r httpsms.Receipt) Receipt {
	return Receipt{Provider: name, ProviderID: r.ProviderID, Outcome: r.Outcome(), Status: r.Status, ErrorCode: r.ErrorCode, Done: r.DoneAt}
}
