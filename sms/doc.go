// Package sms prepares text messages for the short message service: it turns
// Vietnamese mobile numbers into E.164, folds Vietnamese diacritics, picks the
// cheapest alphabet (GSM 7-bit default alphabet or UCS-2) and splits long
// texts into concatenated parts.
//
// References:
//   - 3GPP TS 23.038 (formerly GSM 03.38) §6.2.1 (default alphabet),
//     §6.2.1.1 (extension table), §6.1.2.1.1 (septet packing).
//   - 3GPP TS 23.040 §9.2.3.24.1 (concatenated short messages, 8-bit
//     reference, IEI 0x00) and §9.2.3.24.8 (16-bit reference, IEI 0x08);
//     §9.2.3.16 (user data length counts septets for the default alphabet).
//   - ITU-T E.164 for the canonical number form.
//
// Sending is done elsewhere (package sms/smpp); this package has no I/O.
package sms
