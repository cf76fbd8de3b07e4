// Package phone reads Vietnamese mobile numbers, the applicant's contact
// for every phone channel (SMS, Zalo): Parse accepts the forms people
// write (`0912 345 678`, `+84 912 345 678`, `84912345678`) and returns
// E.164 (`+84912345678`), refusing landlines, service numbers and other
// countries' numbers with a reason fit for an API client; Mask hides a
// number's middle for logs.
package phone
