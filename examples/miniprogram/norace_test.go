//go:build !race

package miniprogram_test

// raceBuild: see race_test.go.
const raceBuild = false
