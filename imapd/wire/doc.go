// Package wire decodes IMAP client commands and encodes server responses.
package wire
