// Package zalochan is the Zalo channel of notifications, over package zns.
// Built so far: Tokens, which keeps the Official Account's access token
// usable across restarts and nodes (the store holds the rotating pair and
// a refresh lease). Not built yet: the notify.Kind and notify.Channel that
// send, the receipts webhook, the template mapping and the fallback to SMS.
package zalochan
