package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Docker cannot run here, so these tests keep the Dockerfile and CI script
// consistent with the code they build and the README they promise.

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDockerfile(t *testing.T) {
	df := readRepoFile(t, "Dockerfile")
	gomod := readRepoFile(t, "go.mod")

	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !strings.Contains(df, "FROM golang:"+goVersion[1]) {
		t.Errorf("the build stage is not golang:%s (go.mod's version)", goVersion[1])
	}
	for _, want := range []string{
		"CGO_ENABLED=0",
		"-trimpath",
		"-tags timetzdata",
		"./cmd/checkout",
		"USER nonroot",
		`HEALTHCHECK`,
		`"-healthcheck"`,
		"EXPOSE 8080",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Count(df, "\nFROM ") != 2 {
		t.Errorf("want a two-stage build")
	}
	// The build image is pinned to an exact Go release (no registry answers
	// here to resolve a digest).
	if !regexp.MustCompile(`(?m)^FROM golang:` + regexp.QuoteMeta(goVersion[1]) + `\.\d+-[a-z]+ AS build$`).MatchString(df) {
		t.Errorf("the build stage is not pinned to an exact golang:%s.N-<debian> tag", goVersion[1])
	}
	// Every stage's base is exact: the runtime is scratch (no versions to
	// drift), never a moving tag such as distroless's :nonroot or :latest.
	for _, from := range regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1) {
		if from[1] != "scratch" && !regexp.MustCompile(`^golang:\d+\.\d+\.\d+-[a-z]+$`).MatchString(from[1]) {
			t.Errorf("FROM %s is not pinned to an exact version (scratch, or golang:X.Y.Z-<debian>)", from[1])
		}
	}
	// Time zones are compiled in (-tags timetzdata): no package step after
	// COPY . ., which would run again on every code change.
	if strings.Contains(df, "apt-get") {
		t.Error("the Dockerfile installs packages; tzdata is compiled in (-tags timetzdata)")
	}
	_, afterCopy, _ := strings.Cut(df, "\nCOPY . .")
	if strings.Count(afterCopy, "\nRUN ") != 1 {
		t.Errorf("want exactly one RUN (the build) after COPY . ., got %d", strings.Count(afterCopy, "\nRUN "))
	}
	for _, want := range []string{
		"--mount=type=cache,target=/go/pkg/mod",
		"--mount=type=cache,target=/root/.cache/go-build",
		"ARG VERSION",
		"ARG COMMIT",
		"-X main.version=${VERSION}",
		"-X main.commit=${COMMIT}",
		// The image never serves the demo unless asked (CHECKOUT_DEMO=on).
		"ENV CHECKOUT_DEMO=off",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The ignore file must not drop what the build needs.
	ignore := readRepoFile(t, ".dockerignore")
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "web", "*.go"} {
		for _, line := range strings.Split(ignore, "\n") {
			if strings.TrimSpace(line) == needed {
				t.Errorf(".dockerignore drops %s, which the build needs", needed)
			}
		}
	}
}

func TestCIScript(t *testing.T) {
	ci := readRepoFile(t, ".ci/run")
	readme := readRepoFile(t, "README.md")
	// client/ is a module of its own, which ./... does not enter: the
	// command runs its tests too. The miniredis pass is the service's only
	// (the client uses no Redis).
	const serviceCmd = "go test -race -count=1 -p 4 ./..."
	const testCmd = serviceCmd + " && (cd client && go test -race -count=1 ./...)"
	if !strings.Contains(readme, "```sh\n"+testCmd+"\n```") {
		t.Errorf("README does not give the test command %q in its own block", testCmd)
	}
	if !strings.Contains(readme, "```sh\ngo run ./cmd/checkout\n```") {
		t.Error("README does not give `go run ./cmd/checkout` in its own block")
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(testCmd) + `$`).MatchString(ci) {
		t.Errorf(".ci/run does not run exactly %q", testCmd)
	}
	// The whole suite runs twice: on the real server, then on miniredis.
	if !regexp.MustCompile(`(?m)^REDISTEST=miniredis ` + regexp.QuoteMeta(serviceCmd) + `$`).MatchString(ci) {
		t.Errorf(".ci/run does not run the suite on miniredis too (REDISTEST=miniredis %s)", serviceCmd)
	}
	for _, want := range []string{"(cd client && go vet ./... && go tool -modfile=../go.mod staticcheck ./...)", "set -euo pipefail", "REDIS_URL=redis://127.0.0.1:6379/0", "REDIS_REQUIRED=1", "ARTIFACTS_DIR", "gofmt -l .", "go vet ./...", "go tool templ generate", "git diff --exit-code", "/usr/bin/chromium",
		// The real topologies, and the Redis packages once more on the Cluster.
		`eval "$(.ci/redis-topologies.sh start)"`, `REDISTEST=cluster go test -count=1 "${CLUSTER_PACKAGES[@]}"`} {
		if !strings.Contains(ci, want) {
			t.Errorf(".ci/run lacks %q", want)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", "../../.ci/run").CombinedOutput(); err != nil {
			t.Errorf("bash -n .ci/run: %v\n%s", err, out)
		}
	}
	if fi, err := os.Stat("../../.ci/run"); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf(".ci/run is not executable")
	}
}

// TestCIClusterPassCoversScripts: every package whose code runs a Lua
// script or a MULTI is in .ci/run's Cluster pass (CLUSTER_PACKAGES), so a
// script or transaction spanning hash slots fails in CI (CROSSSLOT) the day
// it is written, in a package added after the list was.
func TestCIClusterPassCoversScripts(t *testing.T) {
	ci := readRepoFile(t, ".ci/run")
	m := regexp.MustCompile(`(?m)^CLUSTER_PACKAGES=\(([^)]*)\)`).FindStringSubmatch(ci)
	if m == nil {
		t.Fatal(".ci/run has no CLUSTER_PACKAGES=(…) line")
	}
	listed := strings.Fields(m[1])
	covered := func(dir string) bool {
		for _, p := range listed {
			p = strings.TrimPrefix(p, "./")
			if p == dir || p == "..." {
				return true
			}
			if base, ok := strings.CutSuffix(p, "/..."); ok && (dir == base || strings.HasPrefix(dir, base+"/")) {
				return true
			}
		}
		return false
	}
	transaction := regexp.MustCompile(`redis\.NewScript\(|\.TxPipelined\(|\.TxPipeline\(`)
	found := map[string]bool{}
	root := "../.."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			// The client is a module of its own without Redis; the chaos
			// drives start their own topologies.
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "client" || rel == "chaos" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if transaction.Match(b) {
			found[filepath.ToSlash(filepath.Dir(rel))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("found no package with a script or MULTI: the search is broken")
	}
	for dir := range found {
		if !covered(dir) {
			t.Errorf("./%s runs Lua scripts or MULTI but is not in .ci/run's CLUSTER_PACKAGES %v", dir, listed)
		}
	}
}

// TestProjectFiles: the repository says under which license it is, how to
// contribute (pointing at the architecture map) and what changed.
func TestProjectFiles(t *testing.T) {
	if l := readRepoFile(t, "LICENSE"); !strings.Contains(l, "Apache License") || !strings.Contains(l, "Version 2.0, January 2004") {
		t.Error("LICENSE is not the Apache License 2.0 text")
	}
	contributing := readRepoFile(t, "CONTRIBUTING.md")
	for _, want := range []string{"](docs/architecture.md", "go run ./cmd/checkout", "go test -race -count=1 -p 4 ./...", "handlers/routes.go", "CHANGELOG.md"} {
		if !strings.Contains(contributing, want) {
			t.Errorf("CONTRIBUTING.md lacks %q", want)
		}
	}
	// Its steps for an endpoint name every file a new route must change:
	// TestOpenAPIRoutes fails on a route api/openapi.yaml does not describe.
	_, recipe, _ := strings.Cut(contributing, "## Add an endpoint")
	recipe, _, _ = strings.Cut(recipe, "\n## ")
	for _, want := range []string{"handlers/routes.go", "handlers/testdata/routes.txt", "handlers/errors.go", "api/openapi.yaml", "TestOpenAPIRoutes", "client/"} {
		if !strings.Contains(recipe, want) {
			t.Errorf("CONTRIBUTING.md's endpoint steps do not name %q", want)
		}
	}
	if !strings.Contains(readRepoFile(t, "CHANGELOG.md"), "\n## Unreleased\n") {
		t.Error("CHANGELOG.md has no Unreleased section")
	}
}
