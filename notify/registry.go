package notify

import (
	"fmt"

	"congthu/dossier"
	"congthu/notify/notifydb"
	"congthu/templates"
)

// A Kind is a channel as the accepting side (the API, the CLI, the console)
// sees it: its name, the applicant's contact it sends to, and how a
// rendered template becomes its content. The sending side is a Channel
// (or, for email, the outbox). Adding a channel is a Kind in the channel's
// own package, registered where the process is put together.
type Kind interface {
	// Name is the channel's name ("sms"), as the API, the store and the
	// templates spell it.
	Name() string
	// Contact is the address the channel sends to.
	Contact() dossier.Contact
	// Prepare puts the content of r, rendered for m, on n, whose common
	// fields (id, service, template, recipient, dossier, texts) are set.
	// Content the channel cannot send (too long, not encodable, a name that
	// cannot be a header) is a *Problem naming the request's field; any
	// other error is a fault of ours.
	Prepare(n *notifydb.NewNotification, r *templates.Rendered, m *Message) error
}

// A Problem is rendered content a channel cannot send: the request's
// fault, answered 422 with Field.
type Problem struct {
	Field   string
	Message string
	// TooLong: the content would be sent but is over the channel's limit
	// (a template preview says so rather than failing).
	TooLong bool
}

func (p *Problem) Error() string { return p.Field + ": " + p.Message }

// Registry is the set of channels the process serves, in the order an
// event that names no channels gets them (dossier.ParseEvent). It
// implements dossier.Channels. It is built once and not changed after.
type Registry struct {
	kinds    []Kind
	byName   map[string]Kind
	defaults []string
}

// NewRegistry returns the registry of kinds, in that order. Two kinds of
// one name are a programming error: it panics.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{byName: map[string]Kind{}}
	for _, k := range kinds {
		if k.Name() == "" || r.byName[k.Name()] != nil {
			panic(fmt.Sprintf("notify: channel %q registered twice or without a name", k.Name()))
		}
		r.kinds = append(r.kinds, k)
		r.byName[k.Name()] = k
		r.defaults = append(r.defaults, k.Name())
	}
	return r
}

// WithDefaults returns the registry with the channels an event that names
// none gets, in that order, instead of every channel in registration
// order. A name not registered is an error.
func (r *Registry) WithDefaults(names []string) (*Registry, error) {
	out := *r
	out.defaults = nil
	for _, n := range names {
		if _, ok := r.byName[n]; !ok {
			return nil, fmt.Errorf("notify: default channel %q is not served (served: %v)", n, r.Names())
		}
		out.defaults = append(out.defaults, n)
	}
	return &out, nil
}

// Defaults returns the channels an event that names none gets, in order.
func (r *Registry) Defaults() []string { return append([]string(nil), r.defaults...) }

// Kind returns the channel of that name.
func (r *Registry) Kind(name string) (Kind, bool) {
	k, ok := r.byName[name]
	return k, ok
}

// Names returns the channels' names in order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.kinds))
	for i, k := range r.kinds {
		out[i] = k.Name()
	}
	return out
}

// Contact returns the contact channel sends to; false for an unknown one.
func (r *Registry) Contact(channel string) (dossier.Contact, bool) {
	k, ok := r.byName[channel]
	if !ok {
		return 0, false
	}
	return k.Contact(), true
}
