// Package archtest holds no code: its test checks the dependency rules
// between congthu's packages (docs/design.md states them) against
// `go list -json congthu/...`.
package archtest
