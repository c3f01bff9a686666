package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRecovery(t *testing.T) {
	logs := &SyncBuffer{}
	h := &handler{log: slog.New(slog.NewJSONHandler(logs, nil))}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(h.serve)
	r.GET("/boom", func(c *gin.Context) { panic("boom") })
	srv := httptest.NewServer(r)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	rr := &Response{Status: res.StatusCode, Body: b}
	if code, _ := rr.ErrorOf(t); res.StatusCode != 500 || code != "internal_error" {
		t.Fatalf("panic answer: %d %s", res.StatusCode, b)
	}
	if !strings.Contains(logs.String(), "Panic") || !strings.Contains(logs.String(), "request_id") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}
