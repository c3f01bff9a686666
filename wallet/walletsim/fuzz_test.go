package walletsim

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzServeHTTP throws arbitrary requests at the emulator: it must never
// panic, and it answers only with the statuses its endpoints use. Seeds
// live in testdata/fuzz.
func FuzzServeHTTP(f *testing.F) {
	s := New(Config{
		PublicURL:        "http://127.0.0.1:8080/sandbox/wallet",
		Apps:             map[string]string{oaApp: oaSecret},
		AlipayPrivateKey: keys()[1],
		Logger:           slog.New(slog.DiscardHandler),
	})
	f.Add("GET", "/sandbox/wallet/connect/oauth2/authorize", "appid="+oaApp+"&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&response_type=code&scope=snsapi_base&state=s", "")
	f.Add("POST", "/sandbox/wallet/gateway.do", "", "app_id=1&method=x&sign=AAAA&timestamp=2026-01-01+00%3A00%3A00&version=1.0")
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(body))
		req.Method = method
		req.URL = &url.URL{Path: path, RawQuery: query}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusFound, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("%s %s?%s: status %d", method, path, query, w.Code)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
