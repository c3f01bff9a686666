package handlers_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"
)

// TestPageWrittenOnce: the checkout page goes out in one write with its
// Content-Length, not chunked as templ flushed its small buffer (a CPU
// profile under load showed the page's write syscalls at 35 %).
func TestPageWrittenOnce(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("redirect", 1200)
	for _, path := range []string{"/c/" + ck.ID, "/c/" + ck.ID + "/result", "/c/co_AAAAAAAAAAAAAAAAAAAAAAAA"} {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if len(res.TransferEncoding) != 0 || res.Header.Get("Content-Length") != strconv.Itoa(len(body)) || len(body) < 1000 {
			t.Errorf("%s: %d, transfer encoding %v, Content-Length %q for %d bytes", path, res.StatusCode,
				res.TransferEncoding, res.Header.Get("Content-Length"), len(body))
		}
	}
}
