// Package static embeds the pages' stylesheet and script and serves them
// under a content checksum, so a deploy never meets a stale cached copy and
// browsers may cache each version forever.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// FS holds the assets: the pages' app.css and app.js, the store code
// poster's poster.css, and embed.js, the button merchants' sites include
// (served at /embed.js, EmbedScript), and the console's counter.js.
//
//go:embed app.css app.js poster.css embed.js counter.js
var FS embed.FS

// asset is one file, read once at start-up.
type asset struct {
	name     string
	body     []byte
	gz       []byte
	sum      string
	mimeType string
}

var assets = load()

func load() map[string]*asset {
	out := map[string]*asset{}
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		panic("static: " + err.Error()) // embedded at build time: cannot fail
	}
	for _, e := range entries {
		b, err := FS.ReadFile(e.Name())
		if err != nil {
			panic("static: " + err.Error())
		}
		h := sha256.Sum256(b)
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(b)
		_ = w.Close()
		out[e.Name()] = &asset{
			name:     e.Name(),
			body:     b,
			gz:       gz.Bytes(),
			sum:      hex.EncodeToString(h[:])[:16],
			mimeType: mime.TypeByExtension(path.Ext(e.Name())),
		}
	}
	return out
}

// Path returns the URL path of an asset with its checksum,
// /static/<checksum>/<name>, or "" for an unknown name.
func Path(name string) string {
	a, ok := assets[name]
	if !ok {
		return ""
	}
	return "/static/" + a.sum + "/" + a.name
}

// Names lists the embedded assets.
func Names() []string {
	out := make([]string, 0, len(assets))
	for n := range assets {
		out = append(out, n)
	}
	return out
}

// Bytes returns an asset's content, for size budgets in tests.
func Bytes(name string) ([]byte, bool) {
	a, ok := assets[name]
	if !ok {
		return nil, false
	}
	return a.body, true
}

// Handler serves "<checksum>/<name>" (mount it with the /static/ prefix
// stripped). A current checksum is cached for a year as immutable; an old
// or unknown one is 404, never another version's content.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		sum, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		a, found := assets[name]
		if !ok || !found || sum != a.sum {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.mimeType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+a.sum+`"`)
		h.Add("Vary", "Accept-Encoding")
		if r.Header.Get("If-None-Match") == `"`+a.sum+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.body
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Last-Modified", start.UTC().Format(http.TimeFormat))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// start stands in for a modification time: assets change only with the binary.
var start = time.Now()

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		enc, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(strings.ToLower(enc)) != "gzip" {
			continue
		}
		p := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return p != "q=0" && p != "q=0.0" && p != "q=0.00" && p != "q=0.000"
	}
	return false
}
