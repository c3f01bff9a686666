package logos

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/notify/webhook"
)

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFetch(t *testing.T) {
	logo := pngBytes(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			// The header lies; the content decides.
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(logo)
		case "/html":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write([]byte("<!DOCTYPE html><script>alert(1)</script>"))
		case "/svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			_, _ = w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
		case "/big":
			_, _ = w.Write(append(append([]byte(nil), logo...), make([]byte, MaxBytes)...))
		case "/slow":
			// A host that starts a logo and never finishes it.
			_, _ = w.Write(logo[:8])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	tests := []struct {
		name, path string
		private    bool // the client may reach loopback (a test or dev setting)
		ok         bool
		warn       string
	}{
		{"png", "/ok", true, true, ""},
		{"html served as png", "/html", true, false, "not a PNG"},
		{"svg", "/svg", true, false, "not a PNG"},
		{"over the cap", "/big", true, false, "larger than"},
		{"body never finished: the timeout ends it", "/slow", true, false, "read logo"},
		{"redirect not followed", "/moved", true, false, "302"},
		{"missing", "/nope", true, false, "404"},
		{"loopback refused by the webhook guard", "/ok", false, false, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			set := Fetch(context.Background(), webhook.GuardedClient(2*time.Second, tt.private), map[string]string{"m1": srv.URL + tt.path}, log)
			path := set.Path("m1")
			if (path != "") != tt.ok {
				t.Fatalf("logo kept %v, want %v (log: %s)", path != "", tt.ok, logs.String())
			}
			if !tt.ok {
				if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tt.warn) {
					t.Errorf("warning %q not logged: %s", tt.warn, logs.String())
				}
				return
			}
			if !strings.HasPrefix(path, PathPrefix+"m1?v=") {
				t.Errorf("path %q", path)
			}
			rec := httptest.NewRecorder()
			set.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathPrefix+"m1", nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" || rec.Header().Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(body, logo) {
				t.Errorf("served %d %q %q, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("X-Content-Type-Options"), len(body))
			}
		})
	}
}

func TestServeUnknown(t *testing.T) {
	var set *Set
	for _, p := range []string{PathPrefix + "m1", PathPrefix, "/other"} {
		rec := httptest.NewRecorder()
		set.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, rec.Code)
		}
	}
	if set.Path("m1") != "" {
		t.Error("a nil set has a logo")
	}
}

// The logos are fetched side by side: a host answers only once every
// merchant's request has arrived, so fetching one after the other would
// time each of them out (and N slow hosts would delay the start N times).
func TestFetchSideBySide(t *testing.T) {
	logo := pngBytes(t)
	const n = 4
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select {
		case <-all:
			_, _ = w.Write(logo)
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	urls := map[string]string{}
	for i := range n {
		urls[fmt.Sprintf("m%d", i)] = fmt.Sprintf("%s/%d.png", srv.URL, i)
	}
	var logs bytes.Buffer
	set := Fetch(context.Background(), webhook.GuardedClient(3*time.Second, true), urls, slog.New(slog.NewTextHandler(&logs, nil)))
	for id := range urls {
		if set.Path(id) == "" {
			t.Errorf("no logo for %s: %s", id, logs.String())
		}
	}
}
