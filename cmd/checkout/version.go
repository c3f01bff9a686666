package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are stamped at build time, as the Dockerfile does with
// its VERSION and COMMIT build arguments (the image's build context has no
// .git, so the toolchain cannot record the commit there):
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/checkout
var (
	version string
	commit  string
)

// versionLine is what `checkout -version` prints: the stamped version and
// commit, else what the Go toolchain recorded in the binary (the module's
// version when installed as `go install …@v1.2.0`, vcs.revision when built
// in a git checkout), else dev and unknown; then the Go release and
// platform.
func versionLine(stampedVersion, stampedCommit string, info *debug.BuildInfo) string {
	v, c := versionOf(stampedVersion, stampedCommit, info)
	return fmt.Sprintf("checkout %s (commit %s, %s %s/%s)", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// versionOf is the version and commit versionLine prints.
func versionOf(stampedVersion, stampedCommit string, info *debug.BuildInfo) (v, c string) {
	v, c, modified := stampedVersion, stampedCommit, false
	if info != nil {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.modified":
				modified = stampedCommit == "" && s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	}
	if modified {
		c += ", modified"
	}
	return v, c
}

// buildVersionLine is versionLine for this binary.
func buildVersionLine() string {
	info, _ := debug.ReadBuildInfo()
	return versionLine(version, commit, info)
}

// buildVersion is the version and commit of this binary, as
// buildVersionLine has them (the start log, the build info metric).
func buildVersion() (v, c string) {
	info, _ := debug.ReadBuildInfo()
	return versionOf(version, commit, info)
}
