// Package dossier is the model of dossier events, what a back-office system
// (một cửa) sends when an administrative dossier changes status:
// parsing an event from its JSON body, validating it field by field, and
// turning it into the data the templates render (see DOMAIN.md for the
// words).
//
// The package knows nothing of HTTP. The REST API (package httpapi) reads
// the body, calls ParseEvent and answers the FieldErrors as its 422; any
// other caller (the CLI, a console) gets the same rules and the same field
// names.
//
// The text rules (TextProblem, CheckPersonalisation) are the ones every
// text reaching a header, a subject, an SMS or HTML obeys, for dossier
// events and for notifications by template alike.
package dossier
