// Package templates holds congthu's notification templates and renders them:
// Vietnamese status emails (HTML and plain text) and SMS for dossier events,
// plus a generic email and SMS for the /v1/notifications endpoints.
//
// Templates are files under templates/files, embedded in the binary (Load),
// or any fs.FS given to LoadDir. Render fills one with data; Lint checks a
// whole set before it ships.
//
// # File format
//
// One file per template, named <id>.tmpl, with an optional sibling
// <id>.sample.json holding realistic sample data (a JSON object) for
// previews and for Lint. A file is a header of "key: value" lines, a line
// holding exactly "---", then the body:
//
//	id: dossier-received-email
//	version: 3
//	channel: email
//	status: received
//	subject: Hồ sơ ((dossier_code)) đã được tiếp nhận
//	description: Giấy tiếp nhận hồ sơ và hẹn trả kết quả
//	---
//	Kính gửi Ông/Bà ((applicant.name)),
//	…
//
// Header keys (lines starting with "#" are comments):
//
//   - id (required): a-z, 0-9, '-', '_'; must equal the file name. Dossier
//     templates are named dossier-<status>-<channel>.
//   - version (required): a positive integer, bumped on every wording
//     change; it is stored with each rendered message.
//   - channel (required): email or sms.
//   - status: the dossier status the template serves (received,
//     supplement_requested, refused, delayed, processing, result_ready,
//     fee_due); one template per status and channel.
//   - subject: email only, one line, may use placeholders.
//   - description: one line for operators.
//   - fold_diacritics: sms only, true to send without Vietnamese diacritics
//     (GSM-7, 160 characters a part instead of 70).
//   - max_parts: sms only, the most parts Lint accepts for the sample
//     (default DefaultMaxParts, 4).
//   - fields: extra placeholder names the template uses beyond
//     DossierFields, comma-separated (e.g. "subject, body").
//
// # Placeholders
//
//	((name))                    a value; required
//	((applicant.name))          dotted names: a flat key "applicant.name" or
//	                            nested objects {"applicant":{"name":…}}
//	((received_at|date))        a value through a filter
//	((if name))…((else))…((end)) a conditional; else is optional
//	((name?? text with ((other)) ))  short conditional, as in GOV.UK Notify
//
// A value is required when its placeholder is outside every conditional or
// in the branch that is taken; placeholders in a branch not taken are not
// needed. Absent means no key, null, a blank string or an empty list; Render
// then returns a *MissingError naming every such field. A condition is true
// when its value is present and not false (0 is true: an amount of 0 is an
// amount). Conditionals nest, and placeholders work inside them. A control
// tag (if, else, end) alone on its line takes its line with it. The short
// form's text ends at the first "))" that closes it, so it cannot end in ")".
// "(((url)))" reads as "(" + ((url)) + ")", so Markdown links may take their
// target from data: [Tra cứu](((lookup_url))).
//
// Filters:
//
//	date      RFC 3339 string, yyyy-mm-dd or time.Time → dd/mm/yyyy in UTC+7
//	time      → HH:MM (24 h) in UTC+7
//	datetime  → HH:MM dd/mm/yyyy in UTC+7
//	vnd       integer (Go int, JSON number, digit string) → 1.500.000 đồng
//	number    → 1.500.000
//	join      list → "a, b, c"
//	count     list → number of items
//
// Times are converted to Asia/Ho_Chi_Minh with a fixed UTC+7 zone, so no
// tzdata is needed: 2026-03-14T18:30:00Z is 15/03/2026. A value without a
// filter prints as itself (a time.Time as a date, a bool as có/không).
//
// A list value ([]string, or a JSON array) alone on its line in an email
// body renders as a bullet list; anywhere else it is joined with ", ".
//
// Values are NFC-normalized; CR LF becomes LF; other control characters
// and bidirectional overrides are dropped. In subjects and SMS every control
// character becomes a space, and the subject is one line whatever the data
// (no header injection). In email bodies values are HTML-escaped and never
// read as Markdown: a value is text, even if it holds "**" or "<script>".
//
// # Email body: a Markdown subset
//
// Blocks are separated by blank lines; a single line break inside a
// paragraph is kept (a <br> in HTML).
//
//	# Heading, ## Subheading, ### Minor heading
//	- item  or  * item          bullet list
//	1. item                     numbered list (indent a line to continue an item)
//	---                         horizontal rule
//	^ text                      inset (callout), consecutive ^ lines join
//	**bold**                    bold
//	[text](https://…)           link: http, https, mailto and tel only
//	https://…                   bare URLs become links
//	\*  \[  \#  …               a backslash keeps the next character literal
//
// The HTML is a complete document (lang="vi", UTF-8, layout tables, inline
// styles, no remote images or style sheets). The plain-text alternative
// keeps the structure: headings underlined, "•" bullets, links as
// "text (url)".
//
// # SMS
//
// An SMS body is plain text (no Markdown); runs of spaces collapse and
// lines are trimmed. With fold_diacritics the text sent (Rendered.SMSText)
// has its diacritics removed: NFC, NFD, combining marks dropped, NFC, then
// đ→d and Đ→D; that is the same algorithm as sms.Fold. Rendered.Text keeps
// the unfolded text. Lint counts parts with a PartCounter supplied by the
// caller (the sms package).
//
// # Using it
//
//	set, err := templates.Load()              // or LoadDir(os.DirFS(dir))
//	t, ok := set.ForStatus("received", templates.Email)
//	r, err := t.Render(data)                  // *MissingError → HTTP 422
//	r, err = t.Preview()                      // with the template's sample
//	problems := templates.Lint(set, sms.PartCounter) // before shipping
//
// A Set and its Templates are read-only once loaded and safe for concurrent
// use.
//
// # Shipped templates
//
// dossier-<status>-email and dossier-<status>-sms for every status, plus
// generic-email (fields subject, body) and generic-sms (field body) for the
// /v1/notifications endpoints. Template.Fields tells which names a template
// requires; DossierFields lists the names integrators may send. Required
// (R) and optional (O) fields, beyond dossier_code (always R):
//
//	status               email R                      email O / SMS
//	received             applicant.name, procedure,   O: handling_unit, lookup_url
//	                     agency, received_at,         SMS R: received_at, appointment_at
//	                     appointment_at
//	supplement_requested applicant.name, procedure,   O: reason, deadline, received_at,
//	                     agency, missing_documents    handling_unit, lookup_url
//	                                                  SMS R: missing_documents; O: deadline
//	refused              applicant.name, procedure,   O: legal_basis, received_at, handling_unit
//	                     agency, reason               SMS R: reason
//	delayed              applicant.name, procedure,   O: appointment_at (the missed date),
//	                     agency, reason,              received_at, handling_unit
//	                     new_appointment_at           SMS R: reason, new_appointment_at
//	processing           applicant.name, procedure,   O: unit_name, appointment_at, handling_unit
//	                     agency                       SMS O: unit_name, appointment_at
//	result_ready         applicant.name, procedure,   O: delivery_note (sent: replaces the
//	                     agency                       collection part), collect_place,
//	                                                  collect_at, handling_unit
//	fee_due              applicant.name, procedure,   O: fee_name, deadline, payment_instructions,
//	                     agency, amount               lookup_url, handling_unit
//	                                                  SMS R: amount; O: fee_name, deadline
//
// Every SMS starts with agency_short ("UBND Q.Hoàn Kiếm"), or agency when
// agency_short is absent; one of the two is required.
package templates
