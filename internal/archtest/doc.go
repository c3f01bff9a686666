// Package archtest keeps the module's import arrows as docs/architecture.md
// draws them. It has no code: its test lists every package of the module
// with `go list` and fails on any non-test import between them that the
// table in arrows_test.go does not allow.
package archtest
