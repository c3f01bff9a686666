package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	re := regexp.MustCompile(`^/static/[0-9a-f]{16}/(app|poster|embed|counter)\.(css|js)$`)
	for _, name := range []string{"app.css", "app.js", "poster.css", "embed.js", "counter.js"} {
		if p := Path(name); !re.MatchString(p) {
			t.Errorf("Path(%q) = %q", name, p)
		}
	}
	if Path("nope.js") != "" || Path("../static.go") != "" {
		t.Error("unknown assets must have no path")
	}
	if len(Names()) != 5 {
		t.Errorf("Names() = %v", Names())
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/static/", Handler()))
	t.Cleanup(srv.Close)
	js, _ := Bytes("app.js")
	jsPath := Path("app.js")
	sum := strings.Split(jsPath, "/")[2]

	get := func(t *testing.T, method, path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		// Transport: no automatic gzip, so the test sees what is sent.
		res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = res.Body.Close() })
		return res
	}

	tests := []struct {
		name     string
		method   string
		path     string
		hdr      map[string]string
		status   int
		encoding string
		ctype    string
	}{
		{"plain", "GET", jsPath, nil, 200, "", "text/javascript; charset=utf-8"},
		{"gzip", "GET", jsPath, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"}, 200, "gzip", "text/javascript; charset=utf-8"},
		{"gzip refused", "GET", jsPath, map[string]string{"Accept-Encoding": "gzip;q=0"}, 200, "", "text/javascript; charset=utf-8"},
		{"css", "GET", Path("app.css"), nil, 200, "", "text/css; charset=utf-8"},
		{"head", "HEAD", jsPath, nil, 200, "", "text/javascript; charset=utf-8"},
		{"not modified", "GET", jsPath, map[string]string{"If-None-Match": `"` + sum + `"`}, 304, "", "text/javascript; charset=utf-8"},
		{"stale checksum", "GET", "/static/0000000000000000/app.js", nil, 404, "", ""},
		{"no checksum", "GET", "/static/app.js", nil, 404, "", ""},
		{"unknown file", "GET", "/static/" + sum + "/static.go", nil, 404, "", ""},
		{"traversal", "GET", "/static/" + sum + "/../app.js", nil, 404, "", ""},
		{"post", "POST", jsPath, nil, 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, tt.method, tt.path, tt.hdr)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tt.encoding)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
				t.Errorf("Cache-Control %q", cc)
			}
			body, _ := io.ReadAll(res.Body)
			if tt.method == "HEAD" {
				if len(body) != 0 {
					t.Error("HEAD with a body")
				}
				return
			}
			if tt.encoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(zr)
			}
			if tt.path == jsPath && !bytes.Equal(body, js) {
				t.Error("served body differs from the embedded file")
			}
		})
	}
}

// TestScriptHasNoThirdParty: the scripts only talk to URLs the page (or,
// for embed.js, its own src) gives them.
func TestScriptHasNoThirdParty(t *testing.T) {
	for _, name := range Names() {
		b, _ := Bytes(name)
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).Find(b); m != nil {
			t.Errorf("%s references %q", name, m)
		}
		if bytes.Contains(b, []byte("eval(")) || bytes.Contains(b, []byte("innerHTML")) {
			t.Errorf("%s uses eval or innerHTML", name)
		}
	}
}

func BenchmarkHandler(b *testing.B) {
	h := http.StripPrefix("/static/", Handler())
	req := httptest.NewRequest("GET", Path("app.js"), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// TestEmbedScriptBudget: embed.js is loaded on merchants' pages, so it
// stays small, uses no cookie or storage, and never posts to "*".
func TestEmbedScriptBudget(t *testing.T) {
	b, ok := Bytes("embed.js")
	if !ok {
		t.Fatal("embed.js is not embedded")
	}
	if len(b) > 8<<10 {
		t.Errorf("embed.js is %d bytes; keep it under 8 KiB", len(b))
	}
	for _, bad := range []string{"document.cookie", "localStorage", "sessionStorage", `"*"`, "import(", "XMLHttpRequest", "fetch("} {
		if bytes.Contains(b, []byte(bad)) {
			t.Errorf("embed.js uses %s", bad)
		}
	}
	app, _ := Bytes("app.js")
	if bytes.Contains(app, []byte(`postMessage(`)) && bytes.Contains(app, []byte(`, "*")`)) {
		t.Error(`app.js posts a message to "*"`)
	}
}
