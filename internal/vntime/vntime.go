// Package vntime holds Vietnam's time zone, the one every local time in
// congthu is read and shown in: SMS quiet hours, delivery receipts without a
// zone, IMAP SEARCH dates and the dates templates render.
//
// Asia/Ho_Chi_Minh is UTC+7 all year (no daylight saving time since 1975),
// so a fixed zone is exact and needs no tzdata on the host.
package vntime

import "time"

// Zone is Asia/Ho_Chi_Minh, named "ICT".
var Zone = time.FixedZone("ICT", 7*3600)

// In returns t in Vietnam's zone.
func In(t time.Time) time.Time { return t.In(Zone) }
