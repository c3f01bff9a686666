//go:build !race

package sessions

// raceBuild: see race_test.go.
const raceBuild = false
