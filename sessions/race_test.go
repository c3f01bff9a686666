//go:build race

package sessions

// raceBuild reports whether this test binary was built with -race, where
// sync.Pool drops what it is given at random: allocation counts mean
// nothing there.
const raceBuild = true
