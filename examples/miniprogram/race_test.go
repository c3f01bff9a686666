//go:build race

package miniprogram_test

// raceBuild reports whether this test binary was built with -race: the
// demo binary is built the same way, so that it reuses the packages this
// test binary's build left in the cache instead of compiling every
// dependency a second time (minutes on a cold cache).
const raceBuild = true
