package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionFlag: `checkout -version` prints one line naming the version,
// the commit and the Go release, and exits 0 without starting anything.
func TestVersionFlag(t *testing.T) {
	code, stdout, stderr := runToExit(t, map[string]string{"CHECKOUT_DEMO": "off"}, "-version")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, "checkout ") || !strings.Contains(stdout, runtime.Version()) || strings.Count(stdout, "\n") != 1 {
		t.Errorf("-version printed %q", stdout)
	}
}

// TestVersionString: stamped values (-ldflags -X) win; without them the
// toolchain's build information fills in; without that, dev and unknown.
func TestVersionString(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "feedface00"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tt := range []struct {
		name, version, commit string
		info                  *debug.BuildInfo
		want                  string
	}{
		{"stamped", "v2.0.0", "0123abc", info, "checkout v2.0.0 (commit 0123abc, "},
		{"build info", "", "", info, "checkout v1.4.0 (commit feedface00, modified, "},
		{"devel build", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "checkout dev (commit unknown, "},
		{"nothing", "", "", nil, "checkout dev (commit unknown, "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := versionLine(tt.version, tt.commit, tt.info)
			if !strings.HasPrefix(got, tt.want) || !strings.HasSuffix(got, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")") {
				t.Errorf("got %q, want it to start %q and end with the Go release", got, tt.want)
			}
		})
	}
}

// TestVersionStampedByLdflags builds the binary the way the Dockerfile does
// (-ldflags -X with its VERSION and COMMIT) and runs `-version`.
func TestVersionStampedByLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	df := readRepoFile(t, "Dockerfile")
	for _, x := range []string{"-X main.version=${VERSION}", "-X main.commit=${COMMIT}"} {
		if !strings.Contains(df, x) {
			t.Errorf("the Dockerfile's build does not stamp %q", x)
		}
	}
	bin := filepath.Join(t.TempDir(), "checkout")
	args := []string{"build", "-ldflags", "-X main.version=v9.8.7 -X main.commit=0123456789abcdef", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command(goTool, append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-version").Output()
	if err != nil {
		t.Fatalf("%s -version: %v", bin, err)
	}
	if want := "checkout v9.8.7 (commit 0123456789abcdef, "; !strings.HasPrefix(string(out), want) {
		t.Errorf("-version printed %q, want it to start %q", out, want)
	}
}
