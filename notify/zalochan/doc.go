// Package zalochan is the Zalo channel of notifications, over package zns:
//
//   - Kind, the notify.Kind: a dossier template of channel zalo (package
//     templates) names an approved ZNS template and its parameters; Prepare
//     shortens a value over Zalo's limit for its type at a word boundary
//     with "…" and says so in the notification's first timeline entry.
//   - Handler, the notify.Channel of queue "zalo" (see Handler.Send).
//   - Events, the webhook Zalo posts its events to (POST /v1/zalo/events):
//     user_received_message makes the notification delivered.
//   - Tokens, which keeps the Official Account's access token usable across
//     restarts and nodes (the store holds the rotating pair and a refresh
//     lease).
//
// Fallback. A dossier event whose channels name zalo before sms sends the
// Zalo message with the event's SMS variant attached (notify.FallbackFor);
// the SMS is created and sent only when Zalo says the number cannot get
// ZNS, refuses the message for good, stays unavailable, or gives no receipt
// within Options.ReceiptTimeout of the send.
package zalochan
