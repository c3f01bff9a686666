//go:build race

package main

// raceBuild reports whether this test binary was built with -race: a test
// that builds the binary itself builds it the same way, so that it reuses
// the packages this test binary's build left in the cache instead of
// compiling every dependency a second time (minutes on a cold cache).
const raceBuild = true
