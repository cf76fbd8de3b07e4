//go:build !openssl

package testenv

// buildTags are the tags GoBinary builds the binary with (see
// tags_openssl.go).
const buildTags = ""
