//go:build openssl

package testenv

// buildTags are the tags GoBinary builds the binary with: those of the
// test binary, so `go test -tags openssl` runs an OpenSSL-signing node.
const buildTags = "openssl"
